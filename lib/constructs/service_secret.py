"""A secret group as a Kubernetes Secret."""

from __future__ import annotations

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.secrets.model import SecretGroup


class ServiceSecret(Construct):
    """One Secret per group, named ``<group>-secrets``, every key readable through envFrom."""

    def __init__(self, scope: Construct, construct_id: str, *, group: SecretGroup) -> None:
        super().__init__(scope, construct_id)
        self.group_name = group.name
        self.keys = group.keys
        self.secret = kplus.Secret(
            self,
            "secret",
            metadata=cdk8s.ApiObjectMetadata(
                name=group.secret_name,
                labels={
                    "app.kubernetes.io/component": "secrets",
                    "seance.dev/secret-group": group.name,
                },
            ),
            string_data=dict(group.decrypted_values()),
        )
