"""The Secrets, one per group: the only chart that carries secret values."""

from __future__ import annotations

import cdk8s
from constructs import Construct

from lib.constructs.service_secret import ServiceSecret
from lib.secrets.model import SecretsDocument


class SecretsChart(cdk8s.Chart):
    def __init__(
        self, scope: Construct, construct_id: str, *, namespace: str, secrets: SecretsDocument
    ) -> None:
        super().__init__(
            scope, construct_id, namespace=namespace, disable_resource_name_hashes=True
        )
        self.by_group = {
            group.name: ServiceSecret(self, group.name, group=group) for group in secrets.groups
        }
