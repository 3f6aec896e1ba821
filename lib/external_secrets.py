"""Where the External Secrets Operator reads each group's values: typed, validated settings.

Kept free of cdk8s so that the environments table imports fast and errors come before jsii
starts; the construct that uses them is lib/constructs/external_secret.py.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal, get_args

from lib.errors import SynthError

StoreKind = Literal["SecretStore", "ClusterSecretStore"]
_STORE_KINDS: tuple[str, ...] = get_args(StoreKind)
_TEMPLATE_FIELDS = frozenset({"namespace", "group"})
# The store name is an object name: a DNS-1123 subdomain, as the CRD requires.
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# A Go duration as time.ParseDuration reads it ("1h", "2h30m", "0"). The CRD types the field
# as a plain string, so without this check a typo would only surface when ESO reconciles.
# Go accepts both the micro sign and the Greek mu in "µs".
_GO_DURATION = re.compile(r"^(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$")


@dataclass(frozen=True)
class SecretStoreRef:
    """The SecretStore (one namespace) or ClusterSecretStore (whole cluster) ESO reads from.

    ``kind`` has no default although ESO defaults to SecretStore: the two look up ``name`` in
    different places, and a wrong guess only shows as a reconcile error in the cluster.
    """

    name: str
    kind: StoreKind

    def __post_init__(self) -> None:
        if len(self.name) > 253 or not _DNS_SUBDOMAIN.fullmatch(self.name):
            raise SynthError(
                f"secret store name '{self.name}' is not a valid object name: use lowercase "
                "letters, digits, '-' and '.' (at most 253 characters)"
            )
        if self.kind not in _STORE_KINDS:
            raise SynthError(
                f"secret store kind '{self.kind}' is unknown: use {' or '.join(_STORE_KINDS)}"
            )


@dataclass(frozen=True)
class ExternalSecretSource:
    """Where ESO finds a group's values: one remote secret per group, one property per key.

    ``remote_key_template`` names the remote secret of a group; it may use ``{namespace}`` (the
    chart's namespace) and ``{group}``. The default keeps environments sharing one store apart.
    ``refresh_interval`` is a Go duration; ``"0"`` fetches once and never again.
    """

    store: SecretStoreRef
    remote_key_template: str = "{namespace}/{group}"
    refresh_interval: str = "1h"

    def __post_init__(self) -> None:
        fields = _template_fields(self.remote_key_template)
        unknown = sorted(fields - _TEMPLATE_FIELDS)
        if unknown or "group" not in fields:
            raise SynthError(
                f"remote key template '{self.remote_key_template}' "
                + (f"uses unknown fields {unknown}" if unknown else "does not use {group}")
                + ": use {group} (so each group reads its own remote secret) and optionally "
                "{namespace}, e.g. '{namespace}/{group}'"
            )
        if not _GO_DURATION.fullmatch(self.refresh_interval):
            raise SynthError(
                f"refresh interval '{self.refresh_interval}' is not a Go duration: "
                "write it like '1h', '15m' or '2h30m' ('0' fetches once)"
            )

    def remote_key(self, *, group: str, namespace: str) -> str:
        return self.remote_key_template.format(group=group, namespace=namespace)


def _template_fields(template: str) -> set[str]:
    """The replacement fields of a ``str.format`` template; refuses anything but plain names.

    Positional fields, attribute access, conversions and format specs have no use in a key name
    and would fail, or silently do something odd, in ``format``.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise SynthError(
            f"remote key template '{template}' is not a valid template: "
            "write fields as {namespace} and {group}, and a literal brace as {{ or }}"
        ) from None
    fields: set[str] = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise SynthError(
                f"remote key template '{template}' has a field other than a plain name: "
                "use {namespace} and {group} only, without format specs or conversions"
            )
        fields.add(name)
    return fields
