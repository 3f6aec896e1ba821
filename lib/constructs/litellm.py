"""The LiteLLM proxy: its config, Deployment and Service."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib import litellm_runtime
from lib.constructs.workload import (
    http_probe,
    resources,
    restrict_pod,
    restricted_container_security,
    restricted_pod_security,
    select_by_labels,
    service_for,
)
from lib.litellm_runtime import WritableMount
from lib.specs.availability import AvailabilitySpec
from lib.specs.image import ImageRef

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
# The proxy's own bound on draining in-flight requests after SIGTERM (its default is 30 s):
# set explicitly so that the grace period computed from it holds. LiteLLM 1.106.12 passes no
# `timeout_graceful_shutdown` to uvicorn (proxy_cli.py has no such option, and it calls
# uvicorn.run() itself, so no UVICORN_* variable reaches it): uvicorn waits for open requests
# without a bound of its own, then LiteLLM's lifespan drain waits up to this.
DRAIN_TIMEOUT_VARIABLE = "GRACEFUL_SHUTDOWN_TIMEOUT"
# uvicorn reads the addresses whose X-Forwarded-For it believes from this variable when its
# caller passes none (uvicorn.Config forwarded_allow_ips; LiteLLM passes none).
TRUSTED_PROXIES_VARIABLE = "FORWARDED_ALLOW_IPS"


@dataclass(frozen=True)
class LiteLLMProps:
    """What the proxy needs.

    ``image``: pinned LiteLLM image, the non-root variant (it runs as
    ``litellm_runtime.PROXY_UID``). ``replicas``: pod count (the autoscaler's floor when
    ``availability`` has one). ``availability``: shutdown timing (the disruption budget,
    spreading and autoscaler are the ``Availability`` construct's). ``secrets``: the Secrets
    handed whole to the proxy through envFrom, in order (a later Secret wins on a duplicate
    key, as the kubelet does it).
    ``drain_seconds``: how long the proxy drains after SIGTERM (the router's longest single try
    plus the proxy's own margin), from which the grace period follows.
    ``keepalive_seconds``: the proxy's idle keep-alive (``--keepalive_timeout``), longer than
    the ingress's or gateway's. ``trusted_proxy_cidrs``: the forwarding pods' addresses whose
    ``X-Forwarded-For`` the proxy believes (none: the variable is not set).
    ``config_yaml``: the proxy's config.yaml, mounted from a ConfigMap. ``env``: plain
    variables. ``pod_annotations``: extra pod-template annotations (the secrets digest).
    ``secret_key_env``: variable -> (Secret, key), single keys under another name (the Redis
    password). ``workers``: proxy worker processes (``--num_workers``). ``metrics_port``: the
    separate Prometheus port (``--prometheus_metrics_port``), a container and Service port named
    ``metrics``; ``None``: none. ``scaling_mounts``: emptyDirs the Redis/metrics wiring needs.
    ``init_containers``: run before the proxy (the database's schema gate).
    """

    image: ImageRef
    replicas: int
    secrets: Sequence[kplus.ISecret]
    config_yaml: str
    env: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    availability: AvailabilitySpec = field(default_factory=AvailabilitySpec)
    name: str = "litellm"
    secret_key_env: Mapping[str, tuple[kplus.ISecret, str]] = field(default_factory=dict)
    workers: int = 1
    metrics_port: int | None = None
    scaling_mounts: Sequence[WritableMount] = ()
    init_containers: Sequence[kplus.ContainerProps] = ()
    drain_seconds: int = 30
    keepalive_seconds: int = litellm_runtime.UVICORN_DEFAULT_KEEPALIVE_SECONDS
    trusted_proxy_cidrs: Sequence[str] = ()


def scaling_args(workers: int, metrics_port: int | None) -> list[str]:
    """CLI flags of LiteLLM 1.106.12 for more workers and the separate metrics port."""
    args = ["--num_workers", str(workers)] if workers > 1 else []
    if metrics_port is not None:
        args += ["--prometheus_metrics_port", str(metrics_port)]
    return args


class LiteLLM(Construct):
    """A LiteLLM proxy Deployment, its config as a ConfigMap, and its ClusterIP Service.

    The pod template carries a digest of the config, so editing it rolls the pods (a mounted
    ConfigMap changes in place, but the proxy reads it only at start).

    The pod meets Pod Security "restricted" with a read-only root filesystem: every path the
    proxy writes is an ``emptyDir`` from ``lib.litellm_runtime.WRITABLE_MOUNTS`` (with its
    size limit) and the variables of ``RUNTIME_ENV`` point the proxy there.
    """

    def __init__(self, scope: Construct, construct_id: str, props: LiteLLMProps) -> None:
        super().__init__(scope, construct_id)
        labels = {
            "app.kubernetes.io/name": props.name,
            "app.kubernetes.io/component": "llm-gateway",
        }
        self.pod_labels = labels
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
        # The root filesystem is read-only: each path the proxy writes is an emptyDir of its own
        # (lib/litellm_runtime.py says which and why), sized so a runaway write evicts the pod
        # instead of filling the node.
        writable = [
            kplus.VolumeMount(
                path=mount.path,
                volume=kplus.Volume.from_empty_dir(
                    self,
                    f"{mount.name}-volume",
                    mount.name,
                    size_limit=cdk8s.Size.mebibytes(mount.size_limit_mib),
                ),
            )
            for mount in (*litellm_runtime.WRITABLE_MOUNTS, *props.scaling_mounts)
        ]
        env = {
            **litellm_runtime.RUNTIME_ENV,
            DRAIN_TIMEOUT_VARIABLE: str(props.drain_seconds),
            **(
                {TRUSTED_PROXIES_VARIABLE: ",".join(props.trusted_proxy_cidrs)}
                if props.trusted_proxy_cidrs
                else {}
            ),
            **props.env,
        }
        prestop_sleep = props.availability.prestop_sleep_seconds
        # Per process of the layout (lib/litellm_runtime.py): workers, supervisor, metrics.
        memory = litellm_runtime.memory_budget(
            workers=props.workers, metrics=props.metrics_port is not None
        )
        cpu_millis = litellm_runtime.cpu_request_millis(
            workers=props.workers, metrics=props.metrics_port is not None
        )
        ports = [kplus.ContainerPort(number=LITELLM_PORT, name="http")]
        if props.metrics_port is not None:
            ports.append(kplus.ContainerPort(number=props.metrics_port, name="metrics"))
        env_variables = {name: kplus.EnvValue.from_value(value) for name, value in env.items()}
        for name, (secret, key) in props.secret_key_env.items():
            env_variables[name] = kplus.EnvValue.from_secret_value(
                kplus.SecretValue(secret=secret, key=key)
            )
        self.deployment = kplus.Deployment(
            self,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=labels),
            select=False,  # select_by_labels below
            # An autoscaled Deployment leaves replicas to the autoscaler: a fixed count here
            # would be re-applied over its decision on every deploy.
            replicas=None if props.availability.autoscaling else props.replicas,
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels,
                annotations={CONFIG_DIGEST_ANNOTATION: config_digest, **props.pod_annotations},
            ),
            security_context=restricted_pod_security(
                user=litellm_runtime.PROXY_UID, group=litellm_runtime.PROXY_GID
            ),
            automount_service_account_token=False,
            init_containers=list(props.init_containers) or None,
            termination_grace_period=cdk8s.Duration.seconds(
                props.availability.termination_grace_seconds(props.drain_seconds)
            ),
            containers=[
                kplus.ContainerProps(
                    name=props.name,
                    image=str(props.image),
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    args=[
                        "--config",
                        f"{CONFIG_DIR}/{CONFIG_FILE}",
                        "--port",
                        str(LITELLM_PORT),
                        litellm_runtime.KEEPALIVE_FLAG,
                        str(props.keepalive_seconds),
                        *scaling_args(props.workers, props.metrics_port),
                    ],
                    ports=ports,
                    env_from=[kplus.Env.from_secret(secret) for secret in props.secrets],
                    env_variables=env_variables,
                    volume_mounts=[
                        kplus.VolumeMount(path=CONFIG_DIR, volume=config_volume, read_only=True),
                        *writable,
                    ],
                    security_context=restricted_container_security(
                        user=litellm_runtime.PROXY_UID, group=litellm_runtime.PROXY_GID
                    ),
                    # The endpoint controllers remove a terminating pod from the Service while
                    # the kubelet already signals it; sleeping first lets that removal reach
                    # every node before the proxy stops accepting. `sleep` is in the image
                    # (Wolfi base; its Dockerfile's runtime stage runs it); Kubernetes 1.28 has
                    # no built-in sleep action.
                    lifecycle=(
                        kplus.ContainerLifecycle(
                            pre_stop=kplus.Handler.from_command(["sleep", str(prestop_sleep)])
                        )
                        if prestop_sleep
                        else None
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
                        cpu_request_millis=cpu_millis,
                        memory_request_mib=memory.request_mib,
                        memory_limit_mib=memory.limit_mib,
                    ),
                )
            ],
        )
        select_by_labels(self.deployment, labels)
        restrict_pod(self.deployment)
        service_ports = [
            kplus.ServicePort(port=LITELLM_PORT, target_port=LITELLM_PORT, name="http")
        ]
        if props.metrics_port is not None:
            service_ports.append(
                kplus.ServicePort(
                    port=props.metrics_port, target_port=props.metrics_port, name="metrics"
                )
            )
        self.service = service_for(
            self, "service", name=props.name, labels=labels, ports=service_ports
        )
