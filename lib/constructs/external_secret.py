"""A secret group as an External Secrets Operator ``ExternalSecret``.

In ``external`` mode the values never pass through this app: the cluster's External Secrets
Operator (ESO) reads them from a store (Vault, a cloud secret manager, ...) and writes the
Secret itself. The app only needs the key names, which come from the SOPS file without
decrypting it, and emits one ExternalSecret per group that makes ESO create the very Secret the
plain mode would have written, so every ``envFrom`` reference stays the same.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal, get_args

import cdk8s
from constructs import Construct

from lib.errors import SynthError
from lib.secrets.model import secret_name_for

# v1, not v1beta1: ESO serves v1 since v0.16 and stopped serving v1beta1 in v0.17.0, so a
# v1beta1 object is refused by any current install.
API_VERSION = "external-secrets.io/v1"
KIND = "ExternalSecret"

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
        if len(self.name) > 253 or not _DNS_SUBDOMAIN.match(self.name):
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
        if not _GO_DURATION.match(self.refresh_interval):
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


class GroupExternalSecret(Construct):
    """One ExternalSecret per group: ESO writes the Secret ``<group>-secrets`` from the store.

    The ExternalSecret has the same name and labels as the Secret of the plain mode (see
    ``ServiceSecret``), and its target is that Secret, with ``creationPolicy: Owner`` so the
    Secret is deleted with the ExternalSecret and nothing else may claim it. Every key becomes
    one ``data`` entry, in the given order: ``secretKey`` is the environment variable name and
    ``remoteRef`` reads the property of that name from the group's remote secret. Listing the
    keys (rather than ``dataFrom``, which copies whatever the remote secret holds) keeps the
    pods' environment exactly the keys of the SOPS file.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group_name: str,
        keys: tuple[str, ...],
        source: ExternalSecretSource,
    ) -> None:
        super().__init__(scope, construct_id)
        if not keys:
            raise ValueError(f"secret group '{group_name}' has no keys")
        if len(set(keys)) != len(keys):
            raise ValueError(f"secret group '{group_name}' lists a key twice: {keys}")
        namespace = cdk8s.Chart.of(self).namespace
        if namespace is None:
            raise ValueError("GroupExternalSecret needs a chart with a namespace")

        self.group_name = group_name
        self.keys = keys
        self.secret_name = secret_name_for(group_name)
        self.remote_key = source.remote_key(group=group_name, namespace=namespace)
        self.api_object = cdk8s.ApiObject(
            self,
            "resource",
            api_version=API_VERSION,
            kind=KIND,
            metadata=cdk8s.ApiObjectMetadata(
                name=self.secret_name,
                labels={
                    "app.kubernetes.io/component": "secrets",
                    "seance.dev/secret-group": group_name,
                },
            ),
        )
        # The Python binding of ApiObject takes apiVersion, kind and metadata only; the rest of
        # the object goes in as a JSON patch, which cdk8s applies when it renders the object.
        self.api_object.add_json_patch(cdk8s.JsonPatch.add("/spec", self._spec(source)))

    def _spec(self, source: ExternalSecretSource) -> dict[str, object]:
        return {
            "secretStoreRef": {"name": source.store.name, "kind": source.store.kind},
            "refreshInterval": source.refresh_interval,
            "target": {"name": self.secret_name, "creationPolicy": "Owner"},
            "data": [
                {"secretKey": key, "remoteRef": {"key": self.remote_key, "property": key}}
                for key in self.keys
            ],
        }
