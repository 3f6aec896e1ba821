"""The per-app gateway keys in the cluster: the declarations, the reconciler, and its Job.

- ConfigMap ``litellm-key-reconciler``: ``lib/gateway_keys/reconciler.py`` as ``reconcile.py``.
- ConfigMap ``litellm-key-declarations``: ``keys.json``, what each app's key must be.
- Job ``litellm-keys-<digest>``: ``python /reconciler/reconcile.py`` in LiteLLM's image. Its name
  is a digest of the declarations and (when the synth knows them) of the key values, so a
  changed declaration or value is a new Job, which runs; an unchanged one is the same Job,
  already complete. It waits for the proxy's readiness (itself gated on the migration) with a
  deadline, then reconciles. It receives the master key and, from each app's Secret, that
  app's key only (a Secret volume with one item per app).
- CronJob ``litellm-keys`` (external mode only): there the values change in the cluster's store,
  which the synth never sees, so the reconciler also runs on a schedule to pick them up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib import litellm_runtime
from lib.constructs.script_container import script_config_map, script_container
from lib.constructs.workload import restrict_pod, restricted_pod_security
from lib.secrets.model import MASTER_KEY
from lib.specs.gateway_access import KEY_VARIABLE, GatewayAccess
from lib.specs.image import ImageRef

RECONCILER_MOUNT = "/reconciler"
RECONCILER_SCRIPT = "reconcile.py"
DECLARATIONS_MOUNT = "/declarations"
DECLARATIONS_FILE = "keys.json"
KEYS_MOUNT = "/keys"
KEYS_LABELS = {
    "app.kubernetes.io/name": "litellm-keys",
    "app.kubernetes.io/component": "gateway-keys",
}
# The proxy may take minutes to pass its gate on a fresh database (migrations first).
READY_TIMEOUT_SECONDS = 900
JOB_DEADLINE_SECONDS = 1200
# External mode: how often the values in the cluster's Secrets are reconciled.
EXTERNAL_SCHEDULE = "*/15 * * * *"


@dataclass(frozen=True)
class DeclaredApp:
    """An app's key: its name, its declaration and the Secret that holds its value."""

    name: str
    access: GatewayAccess
    secret: kplus.ISecret


@dataclass(frozen=True)
class GatewayKeysProps:
    """``manager``: the mark on every key this environment manages (``seance/<environment>``).
    ``proxy_url``: the in-cluster Service. ``litellm_secret``: holds the master key.
    ``keys_digest``: the keyed digest of the app key values, None when the synth has none
    (external mode, which then also gets the CronJob)."""

    image: ImageRef
    manager: str
    proxy_url: str
    litellm_secret: kplus.ISecret
    apps: Sequence[DeclaredApp]
    keys_digest: str | None


def declarations(manager: str, apps: Sequence[DeclaredApp]) -> dict[str, Any]:
    """``keys.json``: what the reconciler makes LiteLLM hold, per app."""
    return {
        "manager": manager,
        "keys": [
            {
                "app": app.name,
                "alias": app.access.alias_for(app.name),
                "models": list(app.access.models),
                "max_budget": app.access.max_budget_usd,
                "budget_duration": app.access.budget_duration,
                "rpm_limit": app.access.rpm_limit,
                "tpm_limit": app.access.tpm_limit,
                "metadata": dict(app.access.metadata),
                "rotation_grace": app.access.rotation_grace,
                "key_file": f"{app.name}/{KEY_VARIABLE}",
            }
            for app in apps
        ],
    }


class GatewayKeys(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: GatewayKeysProps) -> None:
        super().__init__(scope, construct_id)
        declared = json.dumps(declarations(props.manager, props.apps), indent=2, sort_keys=True)
        self.scripts = script_config_map(
            self,
            "reconciler",
            name="litellm-key-reconciler",
            scripts={RECONCILER_SCRIPT: "reconciler.py"},
        )
        declarations_map = kplus.ConfigMap(
            self,
            "declarations",
            metadata=cdk8s.ApiObjectMetadata(name="litellm-key-declarations", labels=KEYS_LABELS),
            data={DECLARATIONS_FILE: declared},
        )
        digest = hashlib.sha256(
            f"{declared}\n{props.keys_digest or ''}\n{props.image}".encode()
        ).hexdigest()
        self.job_name = f"litellm-keys-{digest[:10]}"
        self.job = kplus.Job(
            self,
            "job",
            metadata=cdk8s.ApiObjectMetadata(name=self.job_name, labels=KEYS_LABELS),
            containers=[self._container("job", props, declarations_map)],
            pod_metadata=cdk8s.ApiObjectMetadata(labels=KEYS_LABELS),
            backoff_limit=4,
            active_deadline=cdk8s.Duration.seconds(JOB_DEADLINE_SECONDS),
            restart_policy=kplus.RestartPolicy.NEVER,
            security_context=restricted_pod_security(
                user=litellm_runtime.PROXY_UID, group=litellm_runtime.PROXY_GID
            ),
            automount_service_account_token=False,
        )
        restrict_pod(self.job)
        self.cron_job = None
        if props.keys_digest is None:
            self.cron_job = kplus.CronJob(
                self,
                "cron",
                metadata=cdk8s.ApiObjectMetadata(name="litellm-keys", labels=KEYS_LABELS),
                schedule=cdk8s.Cron.schedule(
                    minute="*/15", hour="*", day="*", month="*", week_day="*"
                ),
                concurrency_policy=kplus.ConcurrencyPolicy.FORBID,
                successful_jobs_retained=1,
                failed_jobs_retained=3,
                containers=[self._container("cron", props, declarations_map)],
                pod_metadata=cdk8s.ApiObjectMetadata(labels=KEYS_LABELS),
                backoff_limit=4,
                active_deadline=cdk8s.Duration.seconds(JOB_DEADLINE_SECONDS),
                restart_policy=kplus.RestartPolicy.NEVER,
                security_context=restricted_pod_security(
                    user=litellm_runtime.PROXY_UID, group=litellm_runtime.PROXY_GID
                ),
                automount_service_account_token=False,
            )
            restrict_pod(self.cron_job)

    def _container(
        self, prefix: str, props: GatewayKeysProps, declarations_map: kplus.ConfigMap
    ) -> kplus.ContainerProps:
        declarations_volume = kplus.Volume.from_config_map(
            self, f"{prefix}-declarations", declarations_map, name="declarations"
        )
        key_mounts = [
            kplus.VolumeMount(
                path=f"{KEYS_MOUNT}/{app.name}",
                read_only=True,
                volume=kplus.Volume.from_secret(
                    self,
                    f"{prefix}-{app.name}-key",
                    app.secret,
                    name=f"key-{app.name}",
                    items={KEY_VARIABLE: kplus.PathMapping(path=KEY_VARIABLE)},
                ),
            )
            for app in props.apps
        ]
        return script_container(
            self,
            name=f"reconcile-{prefix}" if prefix == "cron" else "reconcile",
            image=props.image,
            scripts=self.scripts,
            mount_path=RECONCILER_MOUNT,
            args=[f"{RECONCILER_MOUNT}/{RECONCILER_SCRIPT}"],
            env={
                "DECLARATIONS_FILE": kplus.EnvValue.from_value(
                    f"{DECLARATIONS_MOUNT}/{DECLARATIONS_FILE}"
                ),
                "KEYS_DIR": kplus.EnvValue.from_value(KEYS_MOUNT),
                "PROXY_URL": kplus.EnvValue.from_value(props.proxy_url),
                "READY_TIMEOUT_SECONDS": kplus.EnvValue.from_value(str(READY_TIMEOUT_SECONDS)),
                MASTER_KEY: kplus.EnvValue.from_secret_value(
                    kplus.SecretValue(secret=props.litellm_secret, key=MASTER_KEY)
                ),
            },
            extra_mounts=[
                kplus.VolumeMount(
                    path=DECLARATIONS_MOUNT, volume=declarations_volume, read_only=True
                ),
                *key_mounts,
            ],
        )


def own_key_gate_container(
    scope: Construct,
    *,
    image: ImageRef,
    scripts: kplus.ConfigMap,
    proxy_url: str,
    key_secret: kplus.ISecret,
) -> kplus.ContainerProps:
    """An app pod's init container: holds the pod until the gateway accepts its key."""
    return script_container(
        scope,
        name="gateway-key-gate",
        image=image,
        scripts=scripts,
        mount_path=RECONCILER_MOUNT,
        args=[f"{RECONCILER_MOUNT}/{RECONCILER_SCRIPT}", "--wait-for-own-key"],
        env={
            "PROXY_URL": kplus.EnvValue.from_value(proxy_url),
            "READY_TIMEOUT_SECONDS": kplus.EnvValue.from_value(str(READY_TIMEOUT_SECONDS)),
            "GATEWAY_KEY": kplus.EnvValue.from_secret_value(
                kplus.SecretValue(secret=key_secret, key=KEY_VARIABLE)
            ),
        },
    )
