"""The LiteLLM proxy: its config, Deployment and Service."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.constructs.workload import dropped_capabilities, http_probe, resources
from lib.litellm_runtime import WritableMount

LITELLM_PORT = 4000
CONFIG_DIR = "/etc/litellm"
CONFIG_FILE = "config.yaml"
CONFIG_DIGEST_ANNOTATION = "seance.dev/config-digest"
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
    ``config_yaml``: the proxy's config.yaml, mounted from a ConfigMap. ``env``: plain
    variables. ``pod_annotations``: extra pod-template annotations (the secrets digest).
    ``secret_key_env``: variable -> (Secret, key), single keys under another name (the Redis
    password). ``workers``: proxy worker processes (``--num_workers``). ``metrics_port``: the
    separate Prometheus port (``--prometheus_metrics_port``), a container and Service port named
    ``metrics``; ``None``: none. ``scaling_mounts``: emptyDirs the Redis/metrics wiring needs.
    """

    image: str
    replicas: int
    secrets: Sequence[kplus.ISecret]
    config_yaml: str
    env: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    name: str = "litellm"
    secret_key_env: Mapping[str, tuple[kplus.ISecret, str]] = field(default_factory=dict)
    workers: int = 1
    metrics_port: int | None = None
    scaling_mounts: Sequence[WritableMount] = ()


def scaling_args(workers: int, metrics_port: int | None) -> list[str]:
    """CLI flags of LiteLLM 1.106.2 for more workers and the separate metrics port."""
    args = ["--num_workers", str(workers)] if workers > 1 else []
    if metrics_port is not None:
        args += ["--prometheus_metrics_port", str(metrics_port)]
    return args


class LiteLLM(Construct):
    """A LiteLLM proxy Deployment, its config as a ConfigMap, and its ClusterIP Service.

    The pod template carries a digest of the config, so editing it rolls the pods (a mounted
    ConfigMap changes in place, but the proxy reads it only at start).
    """

    def __init__(self, scope: Construct, construct_id: str, props: LiteLLMProps) -> None:
        super().__init__(scope, construct_id)
        labels = {
            "app.kubernetes.io/name": props.name,
            "app.kubernetes.io/component": "llm-gateway",
        }
        self.config_map = kplus.ConfigMap(
            self,
            "config",
            metadata=cdk8s.ApiObjectMetadata(name=f"{props.name}-config", labels=labels),
            data={CONFIG_FILE: props.config_yaml},
        )
        config_digest = hashlib.sha256(props.config_yaml.encode("utf-8")).hexdigest()
        config_volume = kplus.Volume.from_config_map(
            self, "config-volume", self.config_map, name="config"
        )
        scaling_mounts = [
            kplus.VolumeMount(
                path=mount.path,
                volume=kplus.Volume.from_empty_dir(
                    self,
                    f"{mount.name}-volume",
                    mount.name,
                    size_limit=cdk8s.Size.mebibytes(mount.size_limit_mib),
                ),
            )
            for mount in props.scaling_mounts
        ]
        ports = [kplus.ContainerPort(number=LITELLM_PORT, name="http")]
        if props.metrics_port is not None:
            ports.append(kplus.ContainerPort(number=props.metrics_port, name="metrics"))
        env_variables = {
            name: kplus.EnvValue.from_value(value) for name, value in props.env.items()
        }
        for name, (secret, key) in props.secret_key_env.items():
            env_variables[name] = kplus.EnvValue.from_secret_value(
                kplus.SecretValue(secret=secret, key=key)
            )
        self.deployment = kplus.Deployment(
            self,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=labels),
            replicas=props.replicas,
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels,
                annotations={CONFIG_DIGEST_ANNOTATION: config_digest, **props.pod_annotations},
            ),
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
                    args=[
                        "--config",
                        f"{CONFIG_DIR}/{CONFIG_FILE}",
                        "--port",
                        str(LITELLM_PORT),
                        *scaling_args(props.workers, props.metrics_port),
                    ],
                    ports=ports,
                    env_from=[kplus.Env.from_secret(secret) for secret in props.secrets],
                    env_variables=env_variables,
                    volume_mounts=[
                        kplus.VolumeMount(path=CONFIG_DIR, volume=config_volume, read_only=True),
                        *scaling_mounts,
                    ],
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
        service_ports = [
            kplus.ServicePort(port=LITELLM_PORT, target_port=LITELLM_PORT, name="http")
        ]
        if props.metrics_port is not None:
            service_ports.append(
                kplus.ServicePort(
                    port=props.metrics_port, target_port=props.metrics_port, name="metrics"
                )
            )
        self.service = self.deployment.expose_via_service(name=props.name, ports=service_ports)
