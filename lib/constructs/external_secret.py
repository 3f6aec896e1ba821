"""A secret group as an External Secrets Operator ``ExternalSecret``.

In ``external`` mode the values never pass through this app: the cluster's External Secrets
Operator (ESO) reads them from a store (Vault, a cloud secret manager, ...) and writes the
Secret itself. The app only needs the key names, which come from the SOPS file without
decrypting it, and emits one ExternalSecret per group that makes ESO create the very Secret the
plain mode would have written, so every ``envFrom`` reference stays the same.
"""

from __future__ import annotations

import cdk8s
from constructs import Construct

from lib.external_secrets import ExternalSecretSource
from lib.secrets.model import secret_name_for

# v1, not v1beta1: ESO serves v1 since v0.16 and stopped serving v1beta1 in v0.17.0, so a
# v1beta1 object is refused by any current install.
API_VERSION = "external-secrets.io/v1"
KIND = "ExternalSecret"


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
