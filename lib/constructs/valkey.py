"""An in-cluster Valkey for development: one ephemeral pod and its Service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.constructs.workload import (
    resources,
    restrict_pod,
    restricted_container_security,
    restricted_pod_security,
    select_by_labels,
    service_for,
)
from lib.specs.redis import PASSWORD_VARIABLE, REDIS_PORT, InClusterValkey

DATA_DIR = "/data"
# Valkey's own server binary in the official image; its entrypoint script is bypassed so that
# nothing tries to chown /data as root.
SERVER_BINARY = "valkey-server"
# Memory beyond `maxmemory`, measured on Debian's redis-server 7.0.15 (jemalloc 5.3; the same
# server Valkey 8 forked from, and the stand-in of tests/test_scaling_e2e.py): an empty server
# holds 11.6 MiB RSS; filled past `maxmemory 128mb` with 3,000-byte values (cached answers), it
# evicts at used_memory 128.0 MiB with RSS 140.6 MiB, mem_fragmentation_ratio 1.10.
IDLE_RSS_MIB = 12
FRAGMENTATION_PERCENT = 110
# Eviction runs before each write, so one write (a cached response, read whole into the
# client's query buffer first) lands on top of `maxmemory` before the next eviction.
WRITE_BURST_MIB = 32


def memory_request_mib(max_memory_mib: int) -> int:
    """What a full Valkey holds: its data at the measured fragmentation, plus the idle server."""
    return -(-max_memory_mib * FRAGMENTATION_PERCENT // 100) + IDLE_RSS_MIB


def memory_limit_mib(max_memory_mib: int) -> int:
    """Above ``maxmemory`` plus its overhead by one write burst: the kernel kills Valkey only if
    eviction fails to hold ``maxmemory``, never for being full as configured."""
    return memory_request_mib(max_memory_mib) + WRITE_BURST_MIB


@dataclass(frozen=True)
class ValkeyProps:
    """``spec``: the environment's Valkey. ``password_secret``: the Secret (the LiteLLM group's)
    holding ``spec.password_key``; Valkey gets that one key, as ``REDIS_PASSWORD``.
    ``pod_annotations``: the LiteLLM group's secrets digest, so a rotated password restarts
    Valkey together with the proxy (else the proxy would present a password Valkey lacks)."""

    spec: InClusterValkey
    password_secret: kplus.ISecret
    pod_annotations: Mapping[str, str] = field(default_factory=dict)


class Valkey(Construct):
    """Valkey without persistence (no RDB snapshots, no AOF): a restart empties the cache and
    the counters, which is what a development cache should do. It meets Pod Security
    "restricted" like every pod here: a high numeric non-root uid (``run_as_user``), a read-only
    root filesystem, RuntimeDefault seccomp, no capabilities; ``/data`` (its working directory)
    is an emptyDir. The password reaches the server through ``$(REDIS_PASSWORD)`` in its args, which
    the kubelet expands from the container's env: the pod spec never holds the value."""

    def __init__(self, scope: Construct, construct_id: str, props: ValkeyProps) -> None:
        super().__init__(scope, construct_id)
        spec = props.spec
        labels = {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/component": "cache"}
        data = kplus.Volume.from_empty_dir(
            self, "data", "data", size_limit=cdk8s.Size.mebibytes(64)
        )
        self.deployment = kplus.Deployment(
            self,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=spec.name, labels=labels),
            select=False,  # select_by_labels below
            replicas=1,
            # Never two at once: a rolling update would briefly run an empty second Valkey
            # behind the one Service, splitting counters and cache between the two.
            strategy=kplus.DeploymentStrategy.recreate(),
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels, annotations=dict(props.pod_annotations) or None
            ),
            security_context=restricted_pod_security(user=spec.run_as_user, group=spec.run_as_user),
            automount_service_account_token=False,
            containers=[
                kplus.ContainerProps(
                    name=spec.name,
                    image=str(spec.image),
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    command=[SERVER_BINARY],
                    args=server_args(spec),
                    ports=[kplus.ContainerPort(number=REDIS_PORT, name="redis")],
                    env_variables={
                        PASSWORD_VARIABLE: kplus.EnvValue.from_secret_value(
                            kplus.SecretValue(secret=props.password_secret, key=spec.password_key)
                        )
                    },
                    volume_mounts=[kplus.VolumeMount(path=DATA_DIR, volume=data)],
                    security_context=restricted_container_security(
                        user=spec.run_as_user, group=spec.run_as_user
                    ),
                    startup=_tcp_probe(period_seconds=2, failure_threshold=30),
                    liveness=_tcp_probe(period_seconds=10, failure_threshold=3),
                    readiness=_tcp_probe(period_seconds=5, failure_threshold=2),
                    resources=resources(
                        cpu_request_millis=50,
                        memory_request_mib=memory_request_mib(spec.max_memory_mib),
                        memory_limit_mib=memory_limit_mib(spec.max_memory_mib),
                    ),
                )
            ],
        )
        select_by_labels(self.deployment, labels)
        restrict_pod(self.deployment)
        self.pod_labels = labels
        self.service = service_for(
            self,
            "service",
            name=spec.name,
            labels=labels,
            ports=[kplus.ServicePort(port=REDIS_PORT, target_port=REDIS_PORT, name="redis")],
        )


def server_args(spec: InClusterValkey) -> list[str]:
    """Valkey's command line: password from the env, no persistence, bounded memory."""
    return [
        "--port",
        str(REDIS_PORT),
        "--requirepass",
        f"$({PASSWORD_VARIABLE})",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        DATA_DIR,
        "--maxmemory",
        f"{spec.max_memory_mib}mb",
        "--maxmemory-policy",
        "allkeys-lru",
    ]


def _tcp_probe(*, period_seconds: int, failure_threshold: int) -> kplus.Probe:
    return kplus.Probe.from_tcp_socket(
        port=REDIS_PORT,
        period_seconds=cdk8s.Duration.seconds(period_seconds),
        failure_threshold=failure_threshold,
        timeout_seconds=cdk8s.Duration.seconds(2),
    )
