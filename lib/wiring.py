"""Which secret groups reach which pod, checked before anything is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lib.environments import Environment
from lib.errors import SynthError
from lib.secrets.model import Layout, SecretGroup, SecretsDocument

LITELLM_POD = "litellm"


@dataclass(frozen=True)
class Wiring:
    """Group names each pod receives through envFrom, in envFrom order."""

    litellm_groups: tuple[str, ...]
    app_groups: Mapping[str, tuple[str, ...]]

    def keys_reaching(self, secrets: SecretsDocument, groups: tuple[str, ...]) -> tuple[str, ...]:
        names: list[str] = []
        for group_name in groups:
            group = secrets.group_named(group_name)
            if group is not None:
                names.extend(key for key in group.keys if key not in names)
        return tuple(names)


def wire(environment: Environment, secrets: SecretsDocument) -> Wiring:
    """Resolve every pod's groups; refuse a pod that would get one key from two groups.

    LiteLLM gets only its own group (the shared one in the flat layout); each app gets exactly
    the groups it declares.
    """
    litellm_group = (
        secrets.groups[0].name if secrets.layout is Layout.FLAT else environment.litellm_group
    )
    litellm = secrets.groups_for(f"LiteLLM in environment '{environment.name}'", (litellm_group,))
    apps = {
        app.name: _checked(
            f"app '{app.name}'", secrets.groups_for(f"app '{app.name}'", app.secret_groups), secrets
        )
        for app in environment.apps
    }
    return Wiring(
        litellm_groups=tuple(group.name for group in _checked(LITELLM_POD, litellm, secrets)),
        app_groups={name: tuple(group.name for group in groups) for name, groups in apps.items()},
    )


def _checked(
    pod: str, groups: tuple[SecretGroup, ...], secrets: SecretsDocument
) -> tuple[SecretGroup, ...]:
    # envFrom would let the later group silently win; a pod must not depend on that order.
    owner: dict[str, str] = {}
    for group in groups:
        for key in group.keys:
            if key in owner:
                raise SynthError(
                    f"{secrets.source}: key '{key}' is in both group '{owner[key]}' and group "
                    f"'{group.name}', which {pod} both receives: keep the key in one group, "
                    "or rename one of them"
                )
            owner[key] = group.name
    return groups
