"""The floor: a bare cdk8s-plus-28 program that builds exactly the objects of the dev synth.

Those are: the restricted Namespace; the two Secrets; LiteLLM (ConfigMap with the dev config,
hardened Deployment with its Redis variables, Service, Ingress); the in-cluster Valkey
(Deployment, Service); the consumer app ``backend`` and its Ingress (its route); the
NetworkPolicies (default deny, and ingress to LiteLLM, to backend and to Valkey). Dev runs one
replica with no metrics, so the PodDisruptionBudget, autoscaler, metrics port and ServiceMonitor
of prod are not among them.

No SOPS, no checks, no lib/: every value is hard-coded, including the public demo values of the
committed example ``secrets/secrets.yaml`` and the digests our synth derives from them, so its
output parses to the very objects ``python main.py`` writes (``benchmarks/run.py`` compares them).
Construct ids mirror ours because cdk8s derives the selector label ``cdk8s.io/metadata.addr``
from the construct path.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NAMESPACE = "seance"
LITELLM_IMAGE = "ghcr.io/berriai/litellm-non_root:v1.106.12"
APP_IMAGE = "docker.io/hashicorp/http-echo:1.0.0"
VALKEY_IMAGE = "docker.io/valkey/valkey:8.1.1"
APP_PORT = 5678
LITELLM_PORT = 4000
HOST = "backend.dev.localhost"
PROXY_UID = 65534
VALKEY_UID = 10001
REDIS_PORT = 6379
VALKEY_LABELS = {"app.kubernetes.io/name": "valkey", "app.kubernetes.io/component": "cache"}
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
    },
    "stripe": {
        "STRIPE_SECRET_KEY": "sk_test_demo_not_a_real_key",
        "STRIPE_PRICE_ID": "price_demo_0000000000",
    },
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
LITELLM_SECRETS_DIGEST = "245c407462f60ec4d359ccf4ae10f96ea001d73e451965321c8a2d8fedb9ae05"
# Every app here receives the stripe group only, so every app has backend's digest.
STRIPE_SECRETS_DIGEST = "f688196d847cc9f200b89ef2f50ad56560d9286862ef20bff79bf2571a3ad441"


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

    def pod_seccomp(deployment: kplus.Deployment) -> None:
        cdk8s.ApiObject.of(deployment).add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec/template/spec/securityContext/seccompProfile", {"type": "RuntimeDefault"}
            )
        )

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
        scope: Construct, name: str, args: Sequence[str], secret: kplus.ISecret
    ) -> kplus.Service:
        group = Construct(scope, name)
        labels = app_labels(name)
        deployment = kplus.Deployment(
            group,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=name, labels=labels),
            replicas=1,
            pod_metadata=cdk8s.ApiObjectMetadata(
                labels=labels,
                annotations={"seance.dev/secrets-digest": STRIPE_SECRETS_DIGEST},
            ),
            security_context=restricted_pod(65534),
            automount_service_account_token=False,
            containers=[
                kplus.ContainerProps(
                    name=name,
                    image=APP_IMAGE,
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    args=list(args),
                    ports=[kplus.ContainerPort(number=APP_PORT, name="http")],
                    env_from=[kplus.Env.from_secret(secret)],
                    security_context=restricted(65534),
                    readiness=app_probe(10),
                    liveness=app_probe(10),
                    resources=resources(50, 64, 256),
                )
            ],
        )
        pod_seccomp(deployment)
        return deployment.expose_via_service(
            name=name, ports=[kplus.ServicePort(port=APP_PORT, target_port=APP_PORT, name="http")]
        )

    def tcp_probe(period: int, failures: int) -> kplus.Probe:
        return kplus.Probe.from_tcp_socket(
            port=REDIS_PORT,
            period_seconds=cdk8s.Duration.seconds(period),
            failure_threshold=failures,
            timeout_seconds=cdk8s.Duration.seconds(2),
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
            replicas=1,
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
                    env_variables={
                        "REDIS_PASSWORD": kplus.EnvValue.from_secret_value(
                            kplus.SecretValue(secret=password, key="REDIS_PASSWORD")
                        )
                    },
                    volume_mounts=[kplus.VolumeMount(path="/data", volume=data)],
                    security_context=restricted(VALKEY_UID),
                    startup=tcp_probe(2, 30),
                    liveness=tcp_probe(10, 3),
                    readiness=tcp_probe(5, 2),
                    resources=resources(50, 160, 192),
                )
            ],
        )
        pod_seccomp(deployment)
        deployment.expose_via_service(
            name="valkey",
            ports=[kplus.ServicePort(port=REDIS_PORT, target_port=REDIS_PORT, name="redis")],
        )

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
    litellm = Construct(gateway_chart, "litellm")
    labels = {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "llm-gateway"}
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
        termination_grace_period=cdk8s.Duration.seconds(50),
        containers=[
            kplus.ContainerProps(
                name="litellm",
                image=LITELLM_IMAGE,
                image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                args=["--config", "/etc/litellm/config.yaml", "--port", str(LITELLM_PORT)],
                ports=[kplus.ContainerPort(number=LITELLM_PORT, name="http")],
                env_from=[kplus.Env.from_secret(secrets["litellm"])],
                env_variables={
                    name: kplus.EnvValue.from_value(value)
                    for name, value in (
                        ("TMPDIR", "/tmp"),  # noqa: S108 - the emptyDir mounted there
                        ("LITELLM_UI_PATH", "/var/lib/litellm/ui/served"),
                        ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
                        ("GRACEFUL_SHUTDOWN_TIMEOUT", "30"),
                        ("REDIS_HOST", "valkey"),
                        ("REDIS_PORT", str(REDIS_PORT)),
                    )
                },
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
                resources=resources(250, 512, 2048),
            )
        ],
    )
    pod_seccomp(deployment)
    service = deployment.expose_via_service(
        name="litellm",
        ports=[kplus.ServicePort(port=LITELLM_PORT, target_port=LITELLM_PORT, name="http")],
    )
    valkey(gateway_chart, secrets["litellm"])
    ingress = kplus.Ingress(
        Construct(gateway_chart, "ingress"),
        "ingress",
        metadata=cdk8s.ApiObjectMetadata(
            name="litellm",
            labels={"app.kubernetes.io/name": "litellm"},
            annotations={
                "nginx.ingress.kubernetes.io/use-regex": "true",
                "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
                "nginx.ingress.kubernetes.io/proxy-body-size": "25m",
                "nginx.ingress.kubernetes.io/proxy-read-timeout": "794",
                "nginx.ingress.kubernetes.io/proxy-send-timeout": "794",
            },
        ),
        class_name="nginx",
    )
    ingress.add_host_rule(
        HOST,
        "/litellm(/|$)(.*)",
        kplus.IngressBackend.from_service(service),
        kplus.HttpIngressPathType.IMPLEMENTATION_SPECIFIC,
    )
    backend = consumer_app(
        gateway_chart,
        "backend",
        (f"-listen=:{APP_PORT}", "-text=backend placeholder: replace with your app"),
        secrets["stripe"],
    )
    # backend is published at "/" on the host (its AppRoute): an Ingress of its own.
    backend_ingress = kplus.Ingress(
        Construct(gateway_chart, "backend-route"),
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
    app_names = ["backend"]
    for index in range(args.apps):
        name, app_args = extra_app(index)
        consumer_app(gateway_chart, name, app_args, secrets["stripe"])
        app_names.append(name)
    network = Construct(gateway_chart, "network")
    network_policy(
        network, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}
    )
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }
    network_policy(
        network,
        "litellm-ingress",
        {
            "podSelector": {"matchLabels": labels},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        controller,
                        *({"podSelector": {"matchLabels": app_labels(n)}} for n in app_names),
                    ],
                    "ports": [{"protocol": "TCP", "port": LITELLM_PORT}],
                }
            ],
        },
    )
    network_policy(
        network,
        "backend-ingress",
        {
            "podSelector": {"matchLabels": app_labels("backend")},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [controller], "ports": [{"protocol": "TCP", "port": APP_PORT}]}],
        },
    )
    network_policy(
        network,
        "valkey-ingress",
        {
            "podSelector": {"matchLabels": VALKEY_LABELS},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": labels}}],
                    "ports": [{"protocol": "TCP", "port": REDIS_PORT}],
                }
            ],
        },
    )
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
