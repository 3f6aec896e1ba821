"""The namespace everything else lives in, applied first."""

from __future__ import annotations

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

# The cluster enforces Pod Security "restricted" as of Kubernetes 1.28 in the namespace, and
# audits and warns with the same level, so a pod that loses a field is refused at admission.
POD_SECURITY_LEVEL = "restricted"
POD_SECURITY_VERSION = "v1.28"
POD_SECURITY_LABELS = {
    f"pod-security.kubernetes.io/{mode}{suffix}": value
    for mode in ("enforce", "audit", "warn")
    for suffix, value in (("", POD_SECURITY_LEVEL), ("-version", POD_SECURITY_VERSION))
}


class NamespaceChart(cdk8s.Chart):
    def __init__(self, scope: Construct, construct_id: str, *, namespace: str) -> None:
        super().__init__(scope, construct_id, disable_resource_name_hashes=True)
        kplus.Namespace(
            self,
            "namespace",
            metadata=cdk8s.ApiObjectMetadata(name=namespace, labels=POD_SECURITY_LABELS),
        )
