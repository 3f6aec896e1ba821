"""The floor: a bare cdk8s-plus-28 program that builds exactly the objects of the dev synth.

Those are: the restricted Namespace; the three Secrets (LiteLLM's, the apps' ``stripe`` and
``chatbot``); the database gate's ConfigMap and the migration Job; LiteLLM (ConfigMap with the dev
config, hardened Deployment with its Redis and database variables and its schema-gate init
container, Service, Ingress under ``/litellm``); the in-cluster Valkey and Postgres (Deployment,
Service each); the key reconciler's ConfigMaps and Job; the consumer apps ``backend`` (and its
route's Ingress) and ``chatbot`` (with its gateway key and the init container that waits for
it); the NetworkPolicies (default deny, and ingress to LiteLLM, to backend, to Valkey and to
Postgres). Dev runs one replica with no metrics behind ingress-nginx, so the PodDisruptionBudget,
autoscaler, metrics port, ServiceMonitor, budget alerts, HTTPRoute and egress policies of prod
are not among them.

No SOPS, no checks, no lib/: every value is hard-coded, including the public demo values of the
committed example ``secrets/secrets.yaml``, the digests our synth derives from them and the
numbers and names it derives for dev (CPU and memory, keep-alive, drain and grace period, the
Jobs' release names, the key declarations), so its
output parses to the very objects ``python main.py`` writes (``benchmarks/run.py`` compares them).
Like ours, every Deployment and Service selects its pods by the stable ``app.kubernetes.io/name``
and ``app.kubernetes.io/component`` labels rather than cdk8s-plus's construct-path label
``cdk8s.io/metadata.addr``, and every pod runs without service links. The database gate and
the key reconciler are our scripts in ``lib/gateway_keys/``, shipped in ConfigMaps as files, so
this program reads them as files too (it imports nothing of ``lib/``).

    python benchmarks/bare_cdk8s_plus.py --outdir DIR [--apps N] [--writer synth|json]
                                         [--gc-freeze] [--timings]

``--apps N`` adds N consumer apps like ``backend`` (``benchmarks/ours_driver.py`` adds the same
ones to ours). ``--writer synth`` (default) is ``App.synth()``: cdk8s renders the YAML in Node
and writes one file per chart. ``--writer json`` is what ours does instead: ``Chart.to_json()``
per chart, dumped with PyYAML in Python. ``--timings`` prints the phases as one JSON line,
with the wall-clock times ``main`` started and ended (``run.py`` splits start-up and exit off).
``--gc-freeze`` ends with ``gc.freeze()`` as our ``main.py`` does, for the comparison of like
with like.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

NAMESPACE = "seance"
LITELLM_IMAGE = "ghcr.io/berriai/litellm-non_root:v1.106.12"
APP_IMAGE = "docker.io/hashicorp/http-echo:1.0.0"
VALKEY_IMAGE = "docker.io/valkey/valkey:8.1.1"
POSTGRES_IMAGE = "docker.io/library/postgres:17.6-bookworm"
APP_PORT = 5678
LITELLM_PORT = 4000
HOST = "backend.dev.localhost"
PROXY_UID = 65534
VALKEY_UID = 10001
POSTGRES_UID = 10002
REDIS_PORT = 6379
POSTGRES_PORT = 5432
LITELLM_LABELS = {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "llm-gateway"}
VALKEY_LABELS = {"app.kubernetes.io/name": "valkey", "app.kubernetes.io/component": "cache"}
POSTGRES_LABELS = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/component": "database"}
MIGRATE_LABELS = {
    "app.kubernetes.io/name": "litellm-migrate",
    "app.kubernetes.io/component": "database-migration",
}
KEYS_LABELS = {
    "app.kubernetes.io/name": "litellm-keys",
    "app.kubernetes.io/component": "gateway-keys",
}
PROXY_URL = f"http://litellm.{NAMESPACE}.svc.cluster.local:{LITELLM_PORT}"
DATABASE_ENV = {
    "DATABASE_HOST": f"postgres:{POSTGRES_PORT}",
    "DATABASE_USERNAME": "litellm",
    "DATABASE_NAME": "litellm",
    "DATABASE_SSLMODE": "disable",
}
SCRIPTS = Path(__file__).resolve().parents[1] / "lib" / "gateway_keys"
POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}{suffix}": value
    for mode in ("enforce", "audit", "warn")
    for suffix, value in (("", "restricted"), ("-version", "v1.28"))
}
# The public example values of secrets/secrets.yaml (encrypted to the committed demo key).
SECRETS = {
    "litellm": {
        "LITELLM_MASTER_KEY": "sk-demo-0f4c1e2b9a7d4c6e8b3a5f1d2c4e6a8b",
        "OPENAI_API_KEY": "sk-demo-openai-not-a-real-key",
        "ANTHROPIC_API_KEY": "sk-ant-demo-not-a-real-key",
        "OPENROUTER_API_KEY": "sk-or-v1-demo-not-a-real-key-0000000000000000",
        "REDIS_PASSWORD": "demo-valkey-password-not-secret-7f3a9c",
        "DATABASE_PASSWORD": "c6717fbc4d276b490fa0d827bb0b23bd0126dbc5bbb5fb0b",
        "LITELLM_SALT_KEY": "7de4e5b1de8cd3dc5a51d81abb5ada6bb4232dfef24f15f7c4765f19c2f0e7de",
    },
    "stripe": {
        "STRIPE_SECRET_KEY": "sk_test_demo_not_a_real_key",
        "STRIPE_PRICE_ID": "price_demo_0000000000",
    },
    "chatbot": {
        "LITELLM_API_KEY": "sk-4e00596e98260883959ad9c0b36fc64e43948841568b39ec29d088cdac188f9d",
    },
}
# What the key reconciler makes LiteLLM hold: chatbot's key (dev's gateway access for it).
KEY_DECLARATIONS = {
    "keys": [
        {
            "alias": "chatbot",
            "app": "chatbot",
            "budget_duration": "30d",
            "key_file": "chatbot/LITELLM_API_KEY",
            "max_budget": 20,
            "metadata": {},
            "models": ["gpt-4o-mini"],
            "rotation_grace": "1h",
            "rpm_limit": 60,
            "tpm_limit": 100000,
        }
    ],
    "manager": "seance/dev",
}
# The dev config: timeouts, a fallback to the OpenRouter default, Redis coordination and the
# response cache in the in-cluster Valkey (addressed through the variables the pod gets).
CONFIG_YAML = """\
model_list:
- model_name: gpt-4o-mini
  litellm_params:
    model: openai/gpt-4o-mini
    timeout: 60
    stream_timeout: 30
- model_name: claude-sonnet
  litellm_params:
    model: anthropic/claude-sonnet-4-5
    timeout: 120
- model_name: openrouter-default
  litellm_params:
    model: openrouter/openai/gpt-4o-mini
    timeout: 60
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  coordination_redis:
    host: os.environ/REDIS_HOST
    port: os.environ/REDIS_PORT
    password: os.environ/REDIS_PASSWORD
litellm_settings:
  cache: true
  cache_params:
    type: redis
    host: os.environ/REDIS_HOST
    port: os.environ/REDIS_PORT
    password: os.environ/REDIS_PASSWORD
    ttl: 600
    supported_call_types:
    - acompletion
    - completion
    - atext_completion
    - text_completion
router_settings:
  num_retries: 2
  timeout: 120
  allowed_fails: 3
  cooldown_time: 30
  fallbacks:
  - gpt-4o-mini:
    - openrouter-default
  - claude-sonnet:
    - openrouter-default
"""
CONFIG_DIGEST = "43d588214661eb332f5d1e43c32bfc832308964220ee5121e58b2238b28d7790"
LITELLM_SECRETS_DIGEST = "3b45e37a2decfc0c76ea4dee66d3ddd9dc1c3cff885767e8f5e0ab230d398f40"
# Every app but chatbot receives the stripe group only, so each has backend's digest.
STRIPE_SECRETS_DIGEST = "f688196d847cc9f200b89ef2f50ad56560d9286862ef20bff79bf2571a3ad441"
CHATBOT_SECRETS_DIGEST = "b8b5ab3f025650e5c28546370cde7416cdc8c5c424d6a38477277c5e9ec3bce9"
# The Jobs' names: one per release (image, secrets digest) and per key declarations.
MIGRATE_JOB = "litellm-migrate-73609cff8a"
KEYS_JOB = "litellm-keys-99d6fcc7a6"


# Phase names, shared with benchmarks/phases.py so that run.py can put them side by side.
IMPORT_CDK8S = "import cdk8s, cdk8s_plus_28, constructs (starts jsii/Node)"
BUILD = "build constructs"
TO_JSON = "Chart.to_json"
RENDER = "render YAML (PyYAML)"
WRITE = "write files"
SYNTH = "App.synth (render + write in Node)"


def extra_app(index: int) -> tuple[str, tuple[str, ...]]:
    """Name and args of extra consumer app ``index`` (the same as benchmarks/ours_driver.py)."""
    return f"extra-{index:03d}", (f"-listen=:{APP_PORT}", f"-text=extra app {index}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--outdir", type=Path, required=True)
    parser.add_argument("--apps", type=int, default=0, help="extra consumer apps (default 0)")
    parser.add_argument("--writer", choices=("synth", "json"), default="synth")
    parser.add_argument("--timings", action="store_true", help="print phases as a JSON line")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() before exit, as main.py does"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    started_at = time.time()  # wall clock, comparable with run.py's: the split of start-up
    args = parse_args(argv)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    marks = {"start": time.perf_counter()}  # phase name -> when it ended

    import cdk8s
    import cdk8s_plus_28 as kplus
    from constructs import Construct

    marks[IMPORT_CDK8S] = time.perf_counter()

    def resources(cpu: int, memory: int, memory_limit: int) -> kplus.ContainerResources:
        return kplus.ContainerResources(
            cpu=kplus.CpuResources(request=kplus.Cpu.millis(cpu)),
            memory=kplus.MemoryResources(
                request=cdk8s.Size.mebibytes(memory), limit=cdk8s.Size.mebibytes(memory_limit)
            ),
        )

    def probe(path: str, period: int, failures: int) -> kplus.Probe:
        return kplus.Probe.from_http_get(
            path,
            port=LITELLM_PORT,
            period_seconds=cdk8s.Duration.seconds(period),
            failure_threshold=failures,
            timeout_seconds=cdk8s.Duration.seconds(5),
        )

    def restricted(user: int) -> kplus.ContainerSecurityContextProps:
        return kplus.ContainerSecurityContextProps(
            ensure_non_root=True,
            user=user,
            group=user,
            read_only_root_filesystem=True,
            allow_privilege_escalation=False,
            privileged=False,
            capabilities=kplus.ContainerSecutiryContextCapabilities(drop=[kplus.Capability.ALL]),
            seccomp_profile=kplus.SeccompProfile(type=kplus.SeccompProfileType.RUNTIME_DEFAULT),
        )

    def restricted_pod(user: int) -> kplus.PodSecurityContextProps:
        return kplus.PodSecurityContextProps(
            ensure_non_root=True, user=user, group=user, fs_group=user
        )

    def pod_patches(workload: kplus.Deployment | kplus.Job) -> None:
        """What cdk8s-plus cannot set: the pod's seccomp profile, no service links, and no
        construct-path label (nothing selects on it)."""
        cdk8s.ApiObject.of(workload).add_json_patch(
            cdk8s.JsonPatch.remove("/spec/template/metadata/labels/cdk8s.io~1metadata.addr"),
            cdk8s.JsonPatch.add(
                "/spec/template/spec/securityContext/seccompProfile", {"type": "RuntimeDefault"}
            ),
            cdk8s.JsonPatch.add("/spec/template/spec/enableServiceLinks", False),
        )

    def service(
        scope: Construct, name: str, labels: dict[str, str], port: int, port_name: str
    ) -> kplus.Service:
        service = kplus.Service(
            scope,
            "service",
            metadata=cdk8s.ApiObjectMetadata(name=name),
            ports=[kplus.ServicePort(port=port, target_port=port, name=port_name)],
        )
        for key, value in labels.items():
            service.select_label(key, value)
        return service

    def plain(values: dict[str, str]) -> dict[str, kplus.EnvValue]:
        return {name: kplus.EnvValue.from_value(value) for name, value in values.items()}

    def from_secret(secret: kplus.ISecret, key: str) -> kplus.EnvValue:
        return kplus.EnvValue.from_secret_value(kplus.SecretValue(secret=secret, key=key))

    def database_env(litellm_secret: kplus.ISecret, *, salt_key: bool) -> dict[str, kplus.EnvValue]:
        env = {
            **plain(DATABASE_ENV),
            "DATABASE_PASSWORD": from_secret(litellm_secret, "DATABASE_PASSWORD"),
        }
        if salt_key:
            env["LITELLM_SALT_KEY"] = from_secret(litellm_secret, "LITELLM_SALT_KEY")
        return env

    def scripts_config_map(
        scope: Construct, name: str, target: str, source: str
    ) -> kplus.ConfigMap:
        return kplus.ConfigMap(
            scope,
            "scripts",
            metadata=cdk8s.ApiObjectMetadata(
                name=name, labels={"app.kubernetes.io/component": "gateway-scripts"}
            ),
            data={target: (SCRIPTS / source).read_text(encoding="utf-8")},
        )

    def script_container(
        scope: Construct,
        name: str,
        scripts: kplus.ConfigMap,
        mount: str,
        command: list[str],
        env: dict[str, kplus.EnvValue],
        extra_mounts: Sequence[kplus.VolumeMount] = (),
    ) -> kplus.ContainerProps:
        """One of our scripts in LiteLLM's image (it has Python), as LiteLLM's user."""
        return kplus.ContainerProps(
            name=name,
            image=LITELLM_IMAGE,
            image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
            command=["python", *command],
            env_variables={"TMPDIR": kplus.EnvValue.from_value("/tmp"), **env},  # noqa: S108
            volume_mounts=[
                kplus.VolumeMount(
                    path=mount,
                    volume=kplus.Volume.from_config_map(
                        scope, f"{name}-scripts", scripts, name=f"{name}-scripts"
                    ),
                    read_only=True,
                ),
                kplus.VolumeMount(
                    path="/tmp",  # noqa: S108 - the pod's own emptyDir
                    volume=kplus.Volume.from_empty_dir(
                        scope, f"{name}-tmp", f"{name}-tmp", size_limit=cdk8s.Size.mebibytes(16)
                    ),
                ),
                *extra_mounts,
            ],
            security_context=restricted(PROXY_UID),
            resources=resources(50, 96, 256),
        )

    def job(
        scope: Construct,
        name: str,
        labels: dict[str, str],
        backoff: int,
        deadline: int,
        containers: list[kplus.ContainerProps],
        init_containers: list[kplus.ContainerProps] | None = None,
    ) -> None:
        workload = kplus.Job(
            scope,
            "job",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=labels),
            pod_metadata=cdk8s.ApiObjectMetadata(labels=labels),
            backoff_limit=backoff,
            active_deadline=cdk8s.Duration.seconds(deadline),
            restart_policy=kplus.RestartPolicy.NEVER,
            security_context=restricted_pod(PROXY_UID),
            automount_service_account_token=False,
            init_containers=init_containers,
            containers=containers,
        )
        pod_patches(workload)

    def app_probe(period: int) -> kplus.Probe:
        return kplus.Probe.from_http_get(
            "/",
            port=APP_PORT,
            period_seconds=cdk8s.Duration.seconds(period),
            failure_threshold=3,
            timeout_seconds=cdk8s.Duration.seconds(5),
        )

    def network_policy(scope: Construct, name: str, spec: dict[str, Any]) -> None:
        policy = cdk8s.ApiObject(
            Construct(scope, name),
            "resource",
            api_version="networking.k8s.io/v1",
            kind="NetworkPolicy",
            metadata=cdk8s.ApiObjectMetadata(name=name),
        )
        policy.add_json_patch(cdk8s.JsonPatch.add("/spec", spec))

    def app_labels(name: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "app"}

    def consumer_app(
        scope: Construct,
        name: str,
        args: Sequence[str],
        digest: str,
        env_from: Sequence[kplus.ISecret] = (),
        env: dict[str, kplus.EnvValue] | None = None,
        init_containers: Callable[[Construct], list[kplus.ContainerProps]] | None = None,
    ) -> kplus.Service:
        group = Construct(scope, name)
        labels = app_labels(name)
        deployment = kplus.Deployment(
            group,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=labels),
            select=False,
            replicas=1,
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels, annotations={"seance.dev/secrets-digest": digest}
            ),
            security_context=restricted_pod(65534),
            automount_service_account_token=False,
            init_containers=init_containers(group) if init_containers else None,
            containers=[
                kplus.ContainerProps(
                    name=name,
                    image=APP_IMAGE,
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    args=list(args),
                    ports=[kplus.ContainerPort(number=APP_PORT, name="http")],
                    env_from=[kplus.Env.from_secret(secret) for secret in env_from],
                    env_variables=env,
                    security_context=restricted(65534),
                    readiness=app_probe(10),
                    liveness=app_probe(10),
                    resources=resources(50, 64, 256),
                )
            ],
        )
        deployment.select(kplus.LabelSelector.of(labels=labels))
        pod_patches(deployment)
        return service(group, name, labels, APP_PORT, "http")

    def tcp_probe(port: int, period: int, failures: int) -> kplus.Probe:
        return kplus.Probe.from_tcp_socket(
            port=port,
            period_seconds=cdk8s.Duration.seconds(period),
            failure_threshold=failures,
            timeout_seconds=cdk8s.Duration.seconds(2),
        )

    def pg_isready(period: int, failures: int) -> kplus.Probe:
        return kplus.Probe.from_command(
            ["pg_isready", "--host", "127.0.0.1", "--port", str(POSTGRES_PORT)],
            period_seconds=cdk8s.Duration.seconds(period),
            failure_threshold=failures,
            timeout_seconds=cdk8s.Duration.seconds(5),
        )

    def valkey(scope: Construct, password: kplus.ISecret) -> None:
        group = Construct(scope, "valkey")
        labels = VALKEY_LABELS
        data = kplus.Volume.from_empty_dir(
            group, "data", "data", size_limit=cdk8s.Size.mebibytes(64)
        )
        deployment = kplus.Deployment(
            group,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name="valkey", labels=labels),
            select=False,
            replicas=1,
            strategy=kplus.DeploymentStrategy.recreate(),
            # The LiteLLM group's digest: a rotated Redis password restarts Valkey too.
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels, annotations={"seance.dev/secrets-digest": LITELLM_SECRETS_DIGEST}
            ),
            security_context=restricted_pod(VALKEY_UID),
            automount_service_account_token=False,
            containers=[
                kplus.ContainerProps(
                    name="valkey",
                    image=VALKEY_IMAGE,
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    command=["valkey-server"],
                    args=[
                        *("--port", str(REDIS_PORT), "--requirepass", "$(REDIS_PASSWORD)"),
                        *("--save", "", "--appendonly", "no", "--dir", "/data"),
                        *("--maxmemory", "128mb", "--maxmemory-policy", "allkeys-lru"),
                    ],
                    ports=[kplus.ContainerPort(number=REDIS_PORT, name="redis")],
                    env_variables={"REDIS_PASSWORD": from_secret(password, "REDIS_PASSWORD")},
                    volume_mounts=[kplus.VolumeMount(path="/data", volume=data)],
                    security_context=restricted(VALKEY_UID),
                    startup=tcp_probe(REDIS_PORT, 2, 30),
                    liveness=tcp_probe(REDIS_PORT, 10, 3),
                    readiness=tcp_probe(REDIS_PORT, 5, 2),
                    # maxmemory 128 MiB at 110% fragmentation + 12 MiB idle; + 32 MiB burst
                    resources=resources(50, 153, 185),
                )
            ],
        )
        deployment.select(kplus.LabelSelector.of(labels=labels))
        pod_patches(deployment)
        service(group, "valkey", labels, REDIS_PORT, "redis")

    def postgres(scope: Construct, password: kplus.ISecret) -> None:
        group = Construct(scope, "postgres")
        labels = POSTGRES_LABELS

        def empty_dir(name: str, mib: int) -> kplus.Volume:
            return kplus.Volume.from_empty_dir(
                group, name, name, size_limit=cdk8s.Size.mebibytes(mib)
            )

        deployment = kplus.Deployment(
            group,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name="postgres", labels=labels),
            select=False,
            replicas=1,
            strategy=kplus.DeploymentStrategy.recreate(),
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels, annotations={"seance.dev/secrets-digest": LITELLM_SECRETS_DIGEST}
            ),
            security_context=restricted_pod(POSTGRES_UID),
            automount_service_account_token=False,
            containers=[
                kplus.ContainerProps(
                    name="postgres",
                    image=POSTGRES_IMAGE,
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    ports=[kplus.ContainerPort(number=POSTGRES_PORT, name="postgres")],
                    env_variables={
                        "POSTGRES_PASSWORD": from_secret(password, "DATABASE_PASSWORD"),
                        **plain(
                            {
                                "POSTGRES_USER": "litellm",
                                "POSTGRES_DB": "litellm",
                                "PGDATA": "/var/lib/postgresql/data/pgdata",
                            }
                        ),
                    },
                    volume_mounts=[
                        kplus.VolumeMount(
                            path="/var/lib/postgresql/data", volume=empty_dir("data", 1024)
                        ),
                        kplus.VolumeMount(
                            path="/var/run/postgresql", volume=empty_dir("socket", 1)
                        ),
                        kplus.VolumeMount(path="/tmp", volume=empty_dir("tmp", 64)),  # noqa: S108
                    ],
                    security_context=restricted(POSTGRES_UID),
                    startup=pg_isready(2, 60),
                    liveness=tcp_probe(POSTGRES_PORT, 10, 3),
                    readiness=pg_isready(5, 2),
                    resources=resources(100, 256, 512),
                )
            ],
        )
        deployment.select(kplus.LabelSelector.of(labels=labels))
        pod_patches(deployment)
        service(group, "postgres", labels, POSTGRES_PORT, "postgres")

    app = cdk8s.App(outdir=str(args.outdir))
    namespace_chart = cdk8s.Chart(app, "namespace", disable_resource_name_hashes=True)
    kplus.Namespace(
        namespace_chart,
        "namespace",
        metadata=cdk8s.ApiObjectMetadata(name=NAMESPACE, labels=POD_SECURITY),
    )

    secrets_chart = cdk8s.Chart(
        app, "secrets", namespace=NAMESPACE, disable_resource_name_hashes=True
    )
    secrets: dict[str, kplus.ISecret] = {}
    for group, values in SECRETS.items():
        secrets[group] = kplus.Secret(
            Construct(secrets_chart, group),
            "secret",
            metadata=cdk8s.ApiObjectMetadata(
                name=f"{group}-secrets",
                labels={
                    "app.kubernetes.io/component": "secrets",
                    "seance.dev/secret-group": group,
                },
            ),
            string_data=values,
        )

    gateway_chart = cdk8s.Chart(
        app, "gateway", namespace=NAMESPACE, disable_resource_name_hashes=True
    )
    # The migration Job, and the gate script every LiteLLM pod waits at.
    migration = Construct(gateway_chart, "migration")
    gate_scripts = scripts_config_map(
        migration, "litellm-database-gate", "database_gate.py", "database_gate.py"
    )
    job(
        migration,
        MIGRATE_JOB,
        MIGRATE_LABELS,
        backoff=6,
        deadline=900,
        init_containers=[
            script_container(
                migration,
                "salt-key-check",
                gate_scripts,
                "/database-gate",
                ["/database-gate/database_gate.py", "salt"],
                {
                    **database_env(secrets["litellm"], salt_key=True),
                    "ALLOW_SALT_KEY_ROTATION": kplus.EnvValue.from_value("false"),
                },
            )
        ],
        containers=[
            kplus.ContainerProps(
                name="migrate",
                image=LITELLM_IMAGE,
                image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                command=["litellm"],
                args=["--skip_server_startup"],
                env_variables={
                    **plain(
                        {
                            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                            "TMPDIR": "/tmp",  # noqa: S108 - the pod's own emptyDir
                            "LITELLM_MIGRATION_DIR": "/var/lib/litellm/migrations",
                        }
                    ),
                    **database_env(secrets["litellm"], salt_key=False),
                },
                volume_mounts=[
                    kplus.VolumeMount(
                        path="/var/lib/litellm/migrations",
                        volume=kplus.Volume.from_empty_dir(
                            migration,
                            "migrations",
                            "migrations",
                            size_limit=cdk8s.Size.mebibytes(64),
                        ),
                    ),
                    kplus.VolumeMount(
                        path="/tmp",  # noqa: S108 - the pod's own emptyDir
                        volume=kplus.Volume.from_empty_dir(
                            migration, "tmp", "tmp", size_limit=cdk8s.Size.mebibytes(256)
                        ),
                    ),
                ],
                security_context=restricted(PROXY_UID),
                resources=resources(250, 512, 1024),
            )
        ],
    )

    litellm = Construct(gateway_chart, "litellm")
    labels = LITELLM_LABELS
    config_map = kplus.ConfigMap(
        litellm,
        "config",
        metadata=cdk8s.ApiObjectMetadata(name="litellm-config", labels=labels),
        data={"config.yaml": CONFIG_YAML},
    )
    config_volume = kplus.Volume.from_config_map(
        litellm, "config-volume", config_map, name="config"
    )
    deployment = kplus.Deployment(
        litellm,
        "deployment",
        metadata=cdk8s.ApiObjectMetadata(name="litellm", labels=labels),
        select=False,
        replicas=1,
        pod_metadata=cdk8s.ApiObjectMetadata(
            labels=labels,
            annotations={
                "seance.dev/config-digest": CONFIG_DIGEST,
                "seance.dev/secrets-digest": LITELLM_SECRETS_DIGEST,
            },
        ),
        security_context=restricted_pod(PROXY_UID),
        automount_service_account_token=False,
        # preStop sleep 5 + drain 130 (the router's longest try, 120, + 10) + margin 15
        termination_grace_period=cdk8s.Duration.seconds(150),
        # Waits until the release's migrations are applied and the salt key matches.
        init_containers=[
            script_container(
                litellm,
                "schema-gate",
                gate_scripts,
                "/database-gate",
                ["/database-gate/database_gate.py", "wait"],
                database_env(secrets["litellm"], salt_key=True),
            )
        ],
        containers=[
            kplus.ContainerProps(
                name="litellm",
                image=LITELLM_IMAGE,
                image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                args=[
                    *("--config", "/etc/litellm/config.yaml", "--port", str(LITELLM_PORT)),
                    # ingress-nginx's upstream keep-alive (60 s) + uvicorn's default (5 s)
                    *("--keepalive_timeout", "65"),
                ],
                ports=[kplus.ContainerPort(number=LITELLM_PORT, name="http")],
                env_from=[kplus.Env.from_secret(secrets["litellm"])],
                env_variables=plain(
                    {
                        "TMPDIR": "/tmp",  # noqa: S108 - the emptyDir mounted there
                        "LITELLM_UI_PATH": "/var/lib/litellm/ui/served",
                        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                        "GRACEFUL_SHUTDOWN_TIMEOUT": "130",
                        "SERVER_ROOT_PATH": "/litellm",
                        "REDIS_HOST": "valkey",
                        "REDIS_PORT": str(REDIS_PORT),
                        **DATABASE_ENV,
                        "DISABLE_SCHEMA_UPDATE": "true",
                    }
                ),
                volume_mounts=[
                    kplus.VolumeMount(path="/etc/litellm", volume=config_volume, read_only=True),
                    kplus.VolumeMount(
                        path="/tmp",  # noqa: S108 - the container's own /tmp, an emptyDir
                        volume=kplus.Volume.from_empty_dir(
                            litellm, "tmp-volume", "tmp", size_limit=cdk8s.Size.mebibytes(256)
                        ),
                    ),
                    kplus.VolumeMount(
                        path="/var/lib/litellm/ui",
                        volume=kplus.Volume.from_empty_dir(
                            litellm, "ui-volume", "ui", size_limit=cdk8s.Size.mebibytes(64)
                        ),
                    ),
                ],
                security_context=restricted(PROXY_UID),
                lifecycle=kplus.ContainerLifecycle(
                    pre_stop=kplus.Handler.from_command(["sleep", "5"])
                ),
                startup=probe("/health/liveliness", 5, 36),
                liveness=probe("/health/liveliness", 15, 3),
                readiness=probe("/health/readiness", 10, 3),
                # one worker: 4m idle + half a core of serving
                resources=resources(504, 512, 2048),
            )
        ],
    )
    deployment.select(kplus.LabelSelector.of(labels=labels))
    pod_patches(deployment)
    litellm_service = service(litellm, "litellm", labels, LITELLM_PORT, "http")
    valkey(gateway_chart, secrets["litellm"])
    postgres(gateway_chart, secrets["litellm"])

    # The per-app gateway keys: the reconciler script, what it must make LiteLLM hold, its Job.
    keys = Construct(gateway_chart, "keys")
    reconciler = scripts_config_map(keys, "litellm-key-reconciler", "reconcile.py", "reconciler.py")
    declarations = kplus.ConfigMap(
        keys,
        "declarations",
        metadata=cdk8s.ApiObjectMetadata(name="litellm-key-declarations", labels=KEYS_LABELS),
        data={"keys.json": json.dumps(KEY_DECLARATIONS, indent=2, sort_keys=True)},
    )
    job(
        keys,
        KEYS_JOB,
        KEYS_LABELS,
        backoff=4,
        deadline=1200,
        containers=[
            script_container(
                keys,
                "reconcile",
                reconciler,
                "/reconciler",
                ["/reconciler/reconcile.py"],
                {
                    **plain(
                        {
                            "DECLARATIONS_FILE": "/declarations/keys.json",
                            "KEYS_DIR": "/keys",
                            "PROXY_URL": PROXY_URL,
                            "READY_TIMEOUT_SECONDS": "900",
                        }
                    ),
                    "LITELLM_MASTER_KEY": from_secret(secrets["litellm"], "LITELLM_MASTER_KEY"),
                },
                extra_mounts=[
                    kplus.VolumeMount(
                        path="/declarations",
                        volume=kplus.Volume.from_config_map(
                            keys, "declarations-volume", declarations, name="declarations"
                        ),
                        read_only=True,
                    ),
                    kplus.VolumeMount(
                        path="/keys/chatbot",
                        volume=kplus.Volume.from_secret(
                            keys,
                            "chatbot-key",
                            secrets["chatbot"],
                            name="key-chatbot",
                            items={"LITELLM_API_KEY": kplus.PathMapping(path="LITELLM_API_KEY")},
                        ),
                        read_only=True,
                    ),
                ],
            )
        ],
    )

    ingress = kplus.Ingress(
        Construct(gateway_chart, "ingress"),
        "ingress",
        metadata=cdk8s.ApiObjectMetadata(
            name="litellm",
            labels={"app.kubernetes.io/name": "litellm"},
            annotations={
                "nginx.ingress.kubernetes.io/proxy-body-size": "25m",
                "nginx.ingress.kubernetes.io/proxy-read-timeout": "794",
                "nginx.ingress.kubernetes.io/proxy-send-timeout": "794",
            },
        ),
        class_name="nginx",
    )
    ingress.add_host_rule(
        HOST,
        "/litellm",
        kplus.IngressBackend.from_service(litellm_service),
        kplus.HttpIngressPathType.PREFIX,
    )
    backend = consumer_app(
        gateway_chart,
        "backend",
        (f"-listen=:{APP_PORT}", "-text=backend placeholder: replace with your app"),
        STRIPE_SECRETS_DIGEST,
        env_from=[secrets["stripe"]],
    )
    # backend is published at "/" on the host (its AppRoute): an Ingress of its own.
    backend_route = Construct(gateway_chart, "backend-route")
    backend_ingress = kplus.Ingress(
        backend_route,
        "ingress",
        metadata=cdk8s.ApiObjectMetadata(
            name="backend", labels={"app.kubernetes.io/name": "backend"}
        ),
        class_name="nginx",
    )
    backend_ingress.add_host_rule(
        HOST,
        "/",
        kplus.IngressBackend.from_service(backend, port=APP_PORT),
        kplus.HttpIngressPathType.PREFIX,
    )
    # chatbot calls LiteLLM with its own key, and starts once the gateway accepts that key.
    consumer_app(
        gateway_chart,
        "chatbot",
        (f"-listen=:{APP_PORT}", "-text=chatbot placeholder: replace with your app"),
        CHATBOT_SECRETS_DIGEST,
        env={
            "OPENAI_API_KEY": from_secret(secrets["chatbot"], "LITELLM_API_KEY"),
            "OPENAI_BASE_URL": kplus.EnvValue.from_value(f"{PROXY_URL}/v1"),
        },
        init_containers=lambda scope: [
            script_container(
                scope,
                "gateway-key-gate",
                reconciler,
                "/reconciler",
                ["/reconciler/reconcile.py", "--wait-for-own-key"],
                {
                    **plain({"PROXY_URL": PROXY_URL, "READY_TIMEOUT_SECONDS": "900"}),
                    "GATEWAY_KEY": from_secret(secrets["chatbot"], "LITELLM_API_KEY"),
                },
            )
        ],
    )
    for index in range(args.apps):
        name, app_args = extra_app(index)
        consumer_app(
            gateway_chart, name, app_args, STRIPE_SECRETS_DIGEST, env_from=[secrets["stripe"]]
        )
    network = Construct(gateway_chart, "network")
    network_policy(
        network, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}
    )
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }

    def admit(name: str, labels: dict[str, str], port: int, peers: list[Any]) -> None:
        network_policy(
            network,
            f"{name}-ingress",
            {
                "podSelector": {"matchLabels": labels},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": port}]}],
            },
        )

    def pods(labels: dict[str, str]) -> dict[str, Any]:
        return {"podSelector": {"matchLabels": labels}}

    # LiteLLM: the ingress controller, the key reconciler, and the apps with a gateway key.
    admit(
        "litellm",
        LITELLM_LABELS,
        LITELLM_PORT,
        [controller, pods(KEYS_LABELS), pods(app_labels("chatbot"))],
    )
    admit("backend", app_labels("backend"), APP_PORT, [controller])
    admit("valkey", VALKEY_LABELS, REDIS_PORT, [pods(LITELLM_LABELS)])
    admit("postgres", POSTGRES_LABELS, POSTGRES_PORT, [pods(LITELLM_LABELS), pods(MIGRATE_LABELS)])
    marks[BUILD] = time.perf_counter()

    if args.writer == "synth":
        app.synth()  # renders and writes in Node: <chart>.k8s.yaml per chart
        marks[SYNTH] = time.perf_counter()
    else:
        charts = (namespace_chart, secrets_chart, gateway_chart)
        objects = [chart.to_json() for chart in charts]
        marks[TO_JSON] = time.perf_counter()
        import yaml

        texts = [yaml.safe_dump_all(docs, sort_keys=False) for docs in objects]
        marks[RENDER] = time.perf_counter()
        args.outdir.mkdir(parents=True, exist_ok=True)
        for chart, text in zip(charts, texts, strict=True):
            (args.outdir / f"{chart.node.id}.k8s.yaml").write_text(text, encoding="utf-8")
        marks[WRITE] = time.perf_counter()

    if args.timings:
        names = list(marks)
        phases = {name: marks[name] - marks[prev] for prev, name in itertools.pairwise(names)}
        report = {
            "phases": phases,
            "started_at": started_at,
            "ended_at": time.time(),
            "python_max_rss_mib": _python_max_rss_mib(),
        }
        print(json.dumps(report), flush=True)
    if args.gc_freeze:
        gc.freeze()
    return 0


def _python_max_rss_mib() -> float:
    """Peak RSS of this Python process alone (Node's is jsii's child process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


if __name__ == "__main__":
    raise SystemExit(main())
