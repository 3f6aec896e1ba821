"""An in-cluster Postgres for development: one pod, its Service, no replicas."""

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
from lib.specs.database import POSTGRES_PORT, InClusterPostgres

DATA_DIR = "/var/lib/postgresql/data"
# The official image's socket directory; its entrypoint starts a temporary server there.
SOCKET_DIR = "/var/run/postgresql"
PASSWORD_VARIABLE = "POSTGRES_PASSWORD"  # noqa: S105 - the image's variable name
# PGDATA one level below the mount: initdb wants to own the directory it fills, and an
# emptyDir's (or a volume's) root belongs to root with fsGroup.
PGDATA = f"{DATA_DIR}/pgdata"


@dataclass(frozen=True)
class PostgresProps:
    """``spec``: the environment's Postgres. ``password_secret``: the Secret (the LiteLLM
    group's) holding ``spec.password_key``; Postgres gets that one key only.
    ``pod_annotations``: the LiteLLM group's secrets digest, so a changed password restarts it
    together with the proxy (the official image sets the password only when it initialises an
    empty data directory: with a persistent claim, change it in Postgres too)."""

    spec: InClusterPostgres
    password_secret: kplus.ISecret
    pod_annotations: Mapping[str, str] = field(default_factory=dict)


class Postgres(Construct):
    """The official Postgres image, run as a high non-root uid (its entrypoint uses
    nss_wrapper for a uid without a passwd entry) under Pod Security "restricted" with a
    read-only root filesystem. Writable: the data directory (an emptyDir of
    ``data_size_mib``, or the ``persistent_claim``), the socket directory and ``/tmp``.
    ``Recreate``: two Postgres pods must never open one data directory."""

    def __init__(self, scope: Construct, construct_id: str, props: PostgresProps) -> None:
        super().__init__(scope, construct_id)
        spec = props.spec
        labels = {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/component": "database"}
        data = (
            kplus.Volume.from_persistent_volume_claim(
                self,
                "data",
                kplus.PersistentVolumeClaim.from_claim_name(self, "claim", spec.persistent_claim),
                name="data",
            )
            if spec.persistent_claim is not None
            else kplus.Volume.from_empty_dir(
                self, "data", "data", size_limit=cdk8s.Size.mebibytes(spec.data_size_mib)
            )
        )
        socket = kplus.Volume.from_empty_dir(
            self, "socket", "socket", size_limit=cdk8s.Size.mebibytes(1)
        )
        tmp = kplus.Volume.from_empty_dir(self, "tmp", "tmp", size_limit=cdk8s.Size.mebibytes(64))
        self.deployment = kplus.Deployment(
            self,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=spec.name, labels=labels),
            replicas=1,
            select=False,  # select_by_labels below
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
                    ports=[kplus.ContainerPort(number=POSTGRES_PORT, name="postgres")],
                    env_variables={
                        PASSWORD_VARIABLE: kplus.EnvValue.from_secret_value(
                            kplus.SecretValue(secret=props.password_secret, key=spec.password_key)
                        ),
                        "POSTGRES_USER": kplus.EnvValue.from_value(spec.user),
                        "POSTGRES_DB": kplus.EnvValue.from_value(spec.database),
                        "PGDATA": kplus.EnvValue.from_value(PGDATA),
                    },
                    volume_mounts=[
                        kplus.VolumeMount(path=DATA_DIR, volume=data),
                        kplus.VolumeMount(path=SOCKET_DIR, volume=socket),
                        kplus.VolumeMount(path="/tmp", volume=tmp),  # noqa: S108 - own emptyDir
                    ],
                    security_context=restricted_container_security(
                        user=spec.run_as_user, group=spec.run_as_user
                    ),
                    # initdb on an empty directory takes seconds on a slow node.
                    startup=_ready_probe(period_seconds=2, failure_threshold=60),
                    liveness=_tcp_probe(period_seconds=10, failure_threshold=3),
                    readiness=_ready_probe(period_seconds=5, failure_threshold=2),
                    resources=resources(
                        cpu_request_millis=100, memory_request_mib=256, memory_limit_mib=512
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
            ports=[
                kplus.ServicePort(port=POSTGRES_PORT, target_port=POSTGRES_PORT, name="postgres")
            ],
        )


def _ready_probe(*, period_seconds: int, failure_threshold: int) -> kplus.Probe:
    """``pg_isready`` over TCP on 127.0.0.1: the entrypoint's temporary server that runs the
    initialisation listens on the socket only, so this is true once the real server runs."""
    return kplus.Probe.from_command(
        ["pg_isready", "--host", "127.0.0.1", "--port", str(POSTGRES_PORT)],
        period_seconds=cdk8s.Duration.seconds(period_seconds),
        failure_threshold=failure_threshold,
        timeout_seconds=cdk8s.Duration.seconds(5),
    )


def _tcp_probe(*, period_seconds: int, failure_threshold: int) -> kplus.Probe:
    return kplus.Probe.from_tcp_socket(
        port=POSTGRES_PORT,
        period_seconds=cdk8s.Duration.seconds(period_seconds),
        failure_threshold=failure_threshold,
        timeout_seconds=cdk8s.Duration.seconds(2),
    )
