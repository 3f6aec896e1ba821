"""The namespace everything else lives in, applied first."""

from __future__ import annotations

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct


class NamespaceChart(cdk8s.Chart):
    def __init__(self, scope: Construct, construct_id: str, *, namespace: str) -> None:
        super().__init__(scope, construct_id, disable_resource_name_hashes=True)
        kplus.Namespace(self, "namespace", metadata=cdk8s.ApiObjectMetadata(name=namespace))
