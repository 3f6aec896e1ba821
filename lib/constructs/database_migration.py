"""The database's release steps: the migration Job, and the gate every LiteLLM pod waits at.

Order without any deploy tool's help (plain ``kubectl apply --server-side -f dist/`` works):

1. The Job ``litellm-migrate-<release>`` (one name per LiteLLM image and secrets digest: a
   Job's pod template cannot change, and a new name is a new run) first checks the salt key
   against the fingerprint in the database (``database_gate.py salt``), then runs LiteLLM's own
   migration entry point ``litellm --skip_server_startup``: ``prisma migrate deploy`` under
   Prisma's advisory lock, exit 1 when the database setup fails, 2 on a migration error
   (``proxy_cli.py``). It retries (``backoffLimit``) while the database comes up.
2. Every LiteLLM pod has an init container (``database_gate.py wait``) that holds it until the
   newest migration its image ships is applied and the salt key matches. The serving container
   runs with ``DISABLE_SCHEMA_UPDATE=true``: it never migrates.

Two releases rolling at once: each Job runs ``prisma migrate deploy``, which applies only
missing migrations, one runner at a time (Prisma's advisory lock; LiteLLM's v2 resolver, the
default, never diffs and forces the schema back). The older release finds nothing to do and its
pods' gate passes, since its newest migration is applied too: the schema only moves forward.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib import litellm_runtime
from lib.constructs.script_container import script_config_map, script_container
from lib.constructs.workload import (
    resources,
    restrict_pod,
    restricted_container_security,
    restricted_pod_security,
)
from lib.secrets.gateway_secrets import SALT_KEY
from lib.specs.database import PASSWORD_VARIABLE, PostgresConnection
from lib.specs.image import ImageRef

GATE_MOUNT = "/database-gate"
GATE_SCRIPT = "database_gate.py"
MIGRATE_LABELS = {
    "app.kubernetes.io/name": "litellm-migrate",
    "app.kubernetes.io/component": "database-migration",
}
# LiteLLM copies its migrations here before running them (LITELLM_MIGRATION_DIR), since the
# package directory is read-only (litellm_proxy_extras/utils.py, _get_prisma_dir).
MIGRATION_DIR = "/var/lib/litellm/migrations"
JOB_DEADLINE_SECONDS = 900


def database_env(
    connection: PostgresConnection, litellm_secret: kplus.ISecret, *, salt_key: bool
) -> dict[str, kplus.EnvValue]:
    """The ``DATABASE_*`` variables (the password from its Secret key), and the salt key."""
    env = {name: kplus.EnvValue.from_value(value) for name, value in connection.plain_env().items()}
    env[PASSWORD_VARIABLE] = kplus.EnvValue.from_secret_value(
        kplus.SecretValue(secret=litellm_secret, key=connection.password_key)
    )
    if salt_key:
        env[SALT_KEY] = kplus.EnvValue.from_secret_value(
            kplus.SecretValue(secret=litellm_secret, key=SALT_KEY)
        )
    return env


@dataclass(frozen=True)
class DatabaseMigrationProps:
    """``image``: the release's LiteLLM image. ``connection``/``litellm_secret``: the database
    and the Secret of the LiteLLM group (password and salt key). ``release_digest``: the LiteLLM
    pod's secrets digest, so a changed salt key (with ``allow_salt_key_rotation``) runs the Job
    again; None in external mode. ``plain_env``: variables both need (offline cost map)."""

    image: ImageRef
    connection: PostgresConnection
    litellm_secret: kplus.ISecret
    allow_salt_key_rotation: bool
    release_digest: str | None
    plain_env: Mapping[str, str]


class DatabaseMigration(Construct):
    """The gate's ConfigMap (``gate_scripts``, shared with the LiteLLM pods) and the Job."""

    def __init__(self, scope: Construct, construct_id: str, props: DatabaseMigrationProps) -> None:
        super().__init__(scope, construct_id)
        self.gate_scripts = script_config_map(
            self, "gate", name="litellm-database-gate", scripts={GATE_SCRIPT: GATE_SCRIPT}
        )
        self.job_name = migration_job_name(props)
        salt_check = script_container(
            self,
            name="salt-key-check",
            image=props.image,
            scripts=self.gate_scripts,
            mount_path=GATE_MOUNT,
            args=[f"{GATE_MOUNT}/{GATE_SCRIPT}", "salt"],
            env={
                **database_env(props.connection, props.litellm_secret, salt_key=True),
                "ALLOW_SALT_KEY_ROTATION": kplus.EnvValue.from_value(
                    "true" if props.allow_salt_key_rotation else "false"
                ),
            },
        )
        migrations = kplus.Volume.from_empty_dir(
            self, "migrations", "migrations", size_limit=cdk8s.Size.mebibytes(64)
        )
        tmp = kplus.Volume.from_empty_dir(self, "tmp", "tmp", size_limit=cdk8s.Size.mebibytes(256))
        self.job = kplus.Job(
            self,
            "job",
            metadata=cdk8s.ApiObjectMetadata(name=self.job_name, labels=MIGRATE_LABELS),
            pod_metadata=cdk8s.ApiObjectMetadata(labels=MIGRATE_LABELS),
            backoff_limit=6,
            active_deadline=cdk8s.Duration.seconds(JOB_DEADLINE_SECONDS),
            restart_policy=kplus.RestartPolicy.NEVER,
            security_context=restricted_pod_security(
                user=litellm_runtime.PROXY_UID, group=litellm_runtime.PROXY_GID
            ),
            automount_service_account_token=False,
            init_containers=[salt_check],
            containers=[
                kplus.ContainerProps(
                    name="migrate",
                    image=str(props.image),
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    # LiteLLM's migration entry point: database setup, then exit (no server).
                    command=["litellm"],
                    args=["--skip_server_startup"],
                    env_variables={
                        **{
                            name: kplus.EnvValue.from_value(value)
                            for name, value in {
                                **props.plain_env,
                                "TMPDIR": "/tmp",  # noqa: S108 - the pod's own emptyDir
                                "LITELLM_MIGRATION_DIR": MIGRATION_DIR,
                            }.items()
                        },
                        **database_env(props.connection, props.litellm_secret, salt_key=False),
                    },
                    volume_mounts=[
                        kplus.VolumeMount(path=MIGRATION_DIR, volume=migrations),
                        kplus.VolumeMount(path="/tmp", volume=tmp),  # noqa: S108
                    ],
                    security_context=restricted_container_security(
                        user=litellm_runtime.PROXY_UID, group=litellm_runtime.PROXY_GID
                    ),
                    resources=resources(
                        cpu_request_millis=250, memory_request_mib=512, memory_limit_mib=1024
                    ),
                )
            ],
        )
        restrict_pod(self.job)


def schema_gate_container(
    scope: Construct,
    *,
    image: ImageRef,
    gate_scripts: kplus.ConfigMap,
    connection: PostgresConnection,
    litellm_secret: kplus.ISecret,
) -> kplus.ContainerProps:
    """The init container of a LiteLLM pod: waits for its release's schema and salt key."""
    return script_container(
        scope,
        name="schema-gate",
        image=image,
        scripts=gate_scripts,
        mount_path=GATE_MOUNT,
        args=[f"{GATE_MOUNT}/{GATE_SCRIPT}", "wait"],
        env=database_env(connection, litellm_secret, salt_key=True),
    )


def migration_job_name(props: DatabaseMigrationProps) -> str:
    """``litellm-migrate-`` and 10 hex characters of the release: its image, and the secrets
    digest when known."""
    release = f"{props.image}\n{props.release_digest or ''}\n{props.allow_salt_key_rotation}"
    return f"litellm-migrate-{hashlib.sha256(release.encode()).hexdigest()[:10]}"
