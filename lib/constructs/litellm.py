"""The LiteLLM proxy: its Deployment and Service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.constructs.workload import dropped_capabilities, http_probe, resources

LITELLM_PORT = 4000
LIVENESS_PATH = "/health/liveliness"
READINESS_PATH = "/health/readiness"
# LiteLLM boots in ~8 s on a laptop but far slower on a cold, contended node; allow 3 minutes
# before the kubelet starts counting liveness failures.
STARTUP_PERIOD_SECONDS = 5
STARTUP_FAILURE_THRESHOLD = 36


@dataclass(frozen=True)
class LiteLLMProps:
    """What the proxy needs.

    ``image``: pinned LiteLLM image; the stock image has no USER line and runs as root.
    ``replicas``: pod count. ``secrets``: the Secrets handed whole to the proxy through envFrom,
    in order (a later Secret wins on a duplicate key, as the kubelet does it).
    """

    image: str
    replicas: int
    secrets: Sequence[kplus.ISecret]
    name: str = "litellm"


class LiteLLM(Construct):
    """A LiteLLM proxy Deployment and its ClusterIP Service on port 4000."""

    def __init__(self, scope: Construct, construct_id: str, props: LiteLLMProps) -> None:
        super().__init__(scope, construct_id)
        labels = {
            "app.kubernetes.io/name": props.name,
            "app.kubernetes.io/component": "llm-gateway",
        }
        self.deployment = kplus.Deployment(
            self,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=labels),
            replicas=props.replicas,
            pod_metadata=cdk8s.ApiObjectMetadata(labels=labels),
            # The stock image runs as root: with cdk8s-plus's default runAsNonRoot the kubelet
            # would refuse to start it. Root is kept powerless instead: no capabilities, no
            # privilege escalation. Its filesystem stays writable because the proxy writes
            # under its install directory at start-up.
            security_context=kplus.PodSecurityContextProps(ensure_non_root=False),
            automount_service_account_token=False,
            containers=[
                kplus.ContainerProps(
                    name=props.name,
                    image=props.image,
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    args=["--port", str(LITELLM_PORT)],
                    ports=[kplus.ContainerPort(number=LITELLM_PORT, name="http")],
                    env_from=[kplus.Env.from_secret(secret) for secret in props.secrets],
                    security_context=kplus.ContainerSecurityContextProps(
                        ensure_non_root=False,
                        read_only_root_filesystem=False,
                        allow_privilege_escalation=False,
                        privileged=False,
                        capabilities=dropped_capabilities(),
                    ),
                    startup=http_probe(
                        LIVENESS_PATH,
                        LITELLM_PORT,
                        period_seconds=STARTUP_PERIOD_SECONDS,
                        failure_threshold=STARTUP_FAILURE_THRESHOLD,
                    ),
                    liveness=http_probe(
                        LIVENESS_PATH, LITELLM_PORT, period_seconds=15, failure_threshold=3
                    ),
                    readiness=http_probe(
                        READINESS_PATH, LITELLM_PORT, period_seconds=10, failure_threshold=3
                    ),
                    resources=resources(
                        cpu_request_millis=250, memory_request_mib=512, memory_limit_mib=2048
                    ),
                )
            ],
        )
        self.service = self.deployment.expose_via_service(
            name=props.name,
            ports=[kplus.ServicePort(port=LITELLM_PORT, target_port=LITELLM_PORT, name="http")],
        )
