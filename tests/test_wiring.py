"""Which groups reach which pod."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lib.environments import ENVIRONMENTS, check_environment
from lib.errors import SynthError
from lib.secrets.model import parse_secrets
from lib.specs.apps import ConsumerAppSpec, NoProbes
from lib.specs.image import ImageRef
from lib.wiring import wire
from tests.helpers import FAKE_MASTER_KEY, FAKE_SECRETS

SOURCE = Path("secrets/secrets.yaml")
DEV = ENVIRONMENTS["dev"]


def app(name: str, *groups: str) -> ConsumerAppSpec:
    return ConsumerAppSpec(
        name=name,
        image=ImageRef.parse("example/app:1"),
        port=8080,
        secret_groups=groups,
        probes=NoProbes(reason="wiring tests build no objects"),
    )


def test_wiring_litellm_gets_its_group_and_apps_get_theirs() -> None:
    secrets = parse_secrets(FAKE_SECRETS, SOURCE, "litellm")
    environment = replace(
        DEV, apps=(app("billing", "stripe"), app("worker", "stripe", "litellm"), app("static"))
    )
    wiring = wire(environment, secrets)
    assert wiring.litellm_groups == ("litellm",)
    assert wiring.app_groups == {
        "billing": ("stripe",),
        "worker": ("stripe", "litellm"),
        "static": (),
    }
    assert wiring.keys_reaching(secrets, wiring.litellm_groups) == tuple(FAKE_SECRETS["litellm"])


def test_wiring_duplicate_key_across_groups_of_one_pod_names_both_groups() -> None:
    document = {
        "litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY},
        "stripe": {"API_TOKEN": "a"},
        "search": {"API_TOKEN": "b"},
    }
    secrets = parse_secrets(document, SOURCE, "litellm")
    with pytest.raises(SynthError) as caught:
        wire(replace(DEV, apps=(app("backend", "stripe", "search"),)), secrets)
    assert str(caught.value) == (
        "secrets/secrets.yaml: key 'API_TOKEN' is in both group 'stripe' and group 'search', "
        "which app 'backend' both receives: keep the key in one group, or rename one of them"
    )
    # The same key in groups that no single pod shares is fine.
    wire(replace(DEV, apps=(app("a", "stripe"), app("b", "search"))), secrets)


@pytest.mark.parametrize(
    ("apps", "problem"),
    [
        ((app("Backend"),), "app name 'Backend' must be a unique DNS-1123 label"),
        ((app("litellm"),), "app name 'litellm' must be a unique DNS-1123 label"),
        ((app("a"), app("a")), "app name 'a' must be a unique DNS-1123 label"),
        ((replace(app("a"), port=70000),), "app 'a' has port 70000; use 1-65535"),
        (
            (replace(app("a"), run_as_user=0),),
            "app 'a' needs replicas >= 1 and a non-root run_as_user",
        ),
    ],
)
def test_wiring_environment_table_is_checked(
    apps: tuple[ConsumerAppSpec, ...], problem: str
) -> None:
    with pytest.raises(SynthError) as caught:
        check_environment(replace(DEV, apps=apps))
    assert str(caught.value) == f"lib/environments.py, environment 'dev': {problem}" + (
        " (lowercase letters, digits, '-') other than 'litellm'" if "DNS-1123" in problem else ""
    )


def test_wiring_shipped_environments_are_valid() -> None:
    for environment in ENVIRONMENTS.values():
        check_environment(environment)
