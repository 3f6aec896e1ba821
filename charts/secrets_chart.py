"""The secret groups as objects: Secrets, ExternalSecrets, or Secrets to be SOPS-encrypted."""

from __future__ import annotations

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.constructs.external_secret import GroupExternalSecret
from lib.constructs.service_secret import ServiceSecret
from lib.external_secrets import ExternalSecretSource
from lib.secrets.model import SecretsDocument


class SecretsChart(cdk8s.Chart):
    """One object per group. ``by_group`` gives the Secret each group becomes, for envFrom.

    With ``external`` set the chart holds ExternalSecrets and no value at all; the Secrets
    they make ESO create have the same names, so the wiring does not change.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace: str,
        secrets: SecretsDocument,
        external: ExternalSecretSource | None = None,
    ) -> None:
        super().__init__(
            scope, construct_id, namespace=namespace, disable_resource_name_hashes=True
        )
        self.by_group: dict[str, kplus.ISecret] = {}
        for group in secrets.groups:
            if external is None:
                self.by_group[group.name] = ServiceSecret(self, group.name, group=group).secret
            else:
                GroupExternalSecret(
                    self, group.name, group_name=group.name, keys=group.keys, source=external
                )
                self.by_group[group.name] = kplus.Secret.from_secret_name(
                    self, f"{group.name}-target", group.secret_name
                )
