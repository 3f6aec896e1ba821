"""The hardened objects' wiring: image policy, network isolation, availability, probes and the
proxy's writable paths, each driven from the environment's specs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from lib import litellm_runtime
from lib.cli import main
from lib.environments import ENVIRONMENTS, Environment, check_environment, images
from lib.errors import SynthError
from lib.images.lock import ImageLock
from lib.images.pinning import pin_images
from lib.litellm_runtime import WritableMount
from lib.proxy_config.spec import ModelSpec
from lib.specs.apps import NoProbes
from lib.specs.availability import AutoscalingSpec, AvailabilitySpec
from lib.specs.database import InClusterPostgres
from lib.specs.gateway_access import GatewayAccess
from lib.specs.image import ImagePolicy, ImageRef
from lib.specs.metrics import MetricsSpec
from lib.specs.network import NAMESPACE_NAME_LABEL, AppIngress, NetworkSpec
from lib.specs.redis import ExistingRedis, InClusterValkey
from lib.synthesis import SynthReport, SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, PROJECT_ROOT, AgeKey, clean_env
from tests.schema_validation import validate_strict

DIGEST = "sha256:" + "0" * 63 + "1"  # made up here; never pulled


def synth(
    environment: Environment, secrets_file: Path, tmp_path: Path, name: str = "dist"
) -> SynthReport:
    report = synthesize(
        SynthRequest(
            environment=environment.name, outdir=tmp_path / name, secrets_file=secrets_file
        ),
        {environment.name: environment},
    )
    for obj in report.objects:
        validate_strict(obj)
    return report


def find(report: SynthReport, kind: str, name: str) -> Any:
    matches = [o for o in report.objects if o["kind"] == kind and o["metadata"]["name"] == name]  # type: ignore[index]
    assert len(matches) == 1, f"expected one {kind} {name}"
    return matches[0]


def kinds(report: SynthReport) -> list[tuple[object, object]]:
    return [(o["kind"], o["metadata"]["name"]) for o in report.objects]  # type: ignore[index]


def test_hardening_image_report_line_says_whether_each_image_is_pinned(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    dev = ENVIRONMENTS["dev"]
    pinned = replace(
        dev, gateway=replace(dev.gateway, image=replace(dev.gateway.image, digest=DIGEST))
    )
    report = synth(pinned, fixture_secrets, tmp_path)
    assert report.images_line() == (
        f"images: litellm ghcr.io/berriai/litellm-non_root:v1.106.12@{DIGEST} (pinned by digest); "
        "backend docker.io/hashicorp/http-echo:1.0.0 (tag only, no digest); "
        "chatbot docker.io/hashicorp/http-echo:1.0.0 (tag only, no digest); "
        "valkey docker.io/valkey/valkey:8.1.1 (tag only, no digest); "
        "postgres docker.io/library/postgres:17.6-bookworm (tag only, no digest)"
    )
    assert report.images_line() in report.lines()
    main_container = find(report, "Deployment", "litellm")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert main_container["image"].endswith(f"@{DIGEST}")


def test_hardening_required_digests_refuse_a_tag_only_image_in_one_line(
    fixture_secrets: Path,
    age_key: AgeKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dev = ENVIRONMENTS["dev"]
    strict = replace(
        dev,
        gateway=replace(dev.gateway, image=replace(dev.gateway.image, digest=DIGEST)),
        image_policy=ImagePolicy(require_digests=True),
    )
    monkeypatch.setitem(ENVIRONMENTS, "dev", strict)
    for name, value in clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(PROJECT_ROOT)  # the committed lock, named as the synth shows it

    exit_code = main(["--secrets", str(fixture_secrets), "--outdir", str(tmp_path / "out")])

    out, err = capsys.readouterr()
    assert (exit_code, out) == (1, "")
    assert err.splitlines() == [
        "error: lib/environments.py, environment 'dev': image "
        "'docker.io/hashicorp/http-echo:1.0.0' of 'backend' is neither written with a digest nor "
        "pinned by images.lock.yaml, and the environment's image_policy requires digests: run "
        "`make lock-images ENV=dev` and commit images.lock.yaml, or append @sha256:<digest> to "
        "the image (docs/images.md)"
    ]
    assert not (tmp_path / "out").exists()


def test_hardening_required_digests_cover_the_in_cluster_valkey() -> None:
    """The Valkey image is an image like any other: tag-only, it is refused by name; pinned, the
    environment passes."""
    dev = ENVIRONMENTS["dev"]
    assert isinstance(dev.redis, InClusterValkey)
    pinned_except_valkey = replace(
        dev,
        gateway=replace(dev.gateway, image=replace(dev.gateway.image, digest=DIGEST)),
        apps=tuple(replace(app, image=replace(app.image, digest=DIGEST)) for app in dev.apps),
        image_policy=ImagePolicy(require_digests=True),
    )
    no_lock = (ImageLock(), Path("images.lock.yaml"))
    with pytest.raises(SynthError) as raised:
        pin_images(pinned_except_valkey, *no_lock)
    assert str(raised.value) == (
        "lib/environments.py, environment 'dev': image 'docker.io/valkey/valkey:8.1.1' of "
        "'valkey' is neither written with a digest nor pinned by images.lock.yaml, and the "
        "environment's image_policy requires digests: run `make lock-images ENV=dev` and "
        "commit images.lock.yaml, or append @sha256:<digest> to the image (docs/images.md)"
    )
    assert isinstance(dev.database, InClusterPostgres)
    all_pinned = replace(
        pinned_except_valkey,
        redis=replace(dev.redis, image=replace(dev.redis.image, digest=DIGEST)),
        database=replace(dev.database, image=replace(dev.database.image, digest=DIGEST)),
    )
    assert pin_images(all_pinned, *no_lock).environment == all_pinned
    assert images(all_pinned)["valkey"] == ImageRef.parse(f"docker.io/valkey/valkey:8.1.1@{DIGEST}")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda env: replace(
                env, apps=(replace(env.apps[0], ingress=AppIngress(from_apps=("billing",))),)
            ),
            "app 'backend' allows ingress from unknown apps ['billing']: use names of this "
            "environment's apps (backend)",
        ),
        (
            lambda env: replace(
                env,
                gateway=replace(
                    env.gateway, replicas=2, availability=AvailabilitySpec(max_unavailable=2)
                ),
            ),
            "gateway availability max_unavailable 2 lets all 2 replicas go at once: use less "
            "than replicas",
        ),
        (
            lambda env: replace(
                env,
                gateway=replace(
                    env.gateway,
                    replicas=3,
                    availability=AvailabilitySpec(autoscaling=AutoscalingSpec(max_replicas=2)),
                ),
            ),
            "gateway autoscaling max_replicas 2 is below replicas 3",
        ),
    ],
)
def test_hardening_environment_checks_refuse(
    change: Callable[[Environment], Environment],
    message: str,
    fixture_secrets: Path,
    with_test_key: AgeKey,
    tmp_path: Path,
) -> None:
    with pytest.raises(SynthError) as raised:
        synth(change(ENVIRONMENTS["dev"]), fixture_secrets, tmp_path)
    assert str(raised.value) == f"lib/environments.py, environment 'dev': {message}"


def test_hardening_network_policies_follow_each_apps_ingress(
    encrypted: Callable[..., Path], with_test_key: AgeKey, tmp_path: Path
) -> None:
    dev = ENVIRONMENTS["dev"]
    backend = dev.apps[0]
    # Not published (no route): reachable by nobody, and by what AppIngress names.
    worker = replace(backend, name="worker", ingress=AppIngress(), route=None)
    # Only an app with gateway access may reach LiteLLM's port.
    api = replace(
        backend,
        name="api",
        port=8080,
        ingress=AppIngress(from_gateway=True, from_apps=("worker",)),
        route=None,
        gateway=GatewayAccess(models=("local",)),
    )
    vllm = ModelSpec(
        name="local",
        model="openai/qwen",
        api_base="http://vllm.inference:8000/v1",
        api_key_env="VLLM_API_KEY",
    )
    environment = replace(
        dev,
        apps=(backend, worker, api),
        proxy=replace(dev.proxy, models=(*dev.proxy.models, vllm)),
        network=NetworkSpec(
            ingress_controller_namespace={"team": "edge"},
            ingress_controller_pods={"app.kubernetes.io/name": "ingress-nginx"},
            restrict_gateway_egress=True,
            egress_cidrs=("0.0.0.0/0", "10.0.0.0/8"),
        ),
    )
    secrets = {
        **FAKE_SECRETS,
        "litellm": {**FAKE_SECRETS["litellm"], "VLLM_API_KEY": "sk-vllm"},
        "api": {"LITELLM_API_KEY": "sk-fixture-api-0e5c2b7d9a4f1836"},
    }
    report = synth(environment, encrypted(secrets), tmp_path)

    controller = {
        "namespaceSelector": {"matchLabels": {"team": "edge"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
    }

    def pods(name: str, component: str = "app") -> dict[str, Any]:
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}
        return {"podSelector": {"matchLabels": labels}}

    assert find(report, "NetworkPolicy", "default-deny")["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [],
    }
    (litellm_rule,) = find(report, "NetworkPolicy", "litellm-ingress")["spec"]["ingress"]
    assert litellm_rule == {
        "from": [controller, pods("litellm-keys", "gateway-keys"), pods("api")],
        "ports": [{"protocol": "TCP", "port": 4000}],
    }
    (api_rule,) = find(report, "NetworkPolicy", "api-ingress")["spec"]["ingress"]
    assert api_rule == {
        "from": [pods("litellm", "llm-gateway"), pods("worker")],
        "ports": [{"protocol": "TCP", "port": 8080}],
    }
    assert ("NetworkPolicy", "worker-ingress") not in kinds(report)
    egress = find(report, "NetworkPolicy", "litellm-egress")["spec"]
    assert egress["policyTypes"] == ["Egress"]
    assert egress["egress"][-1] == {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "10.0.0.0/8"}}],
        "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 8000}],
    }
    # Every policy selects pods that exist: a typo in labels would isolate nothing.
    objects: list[Any] = list(report.objects)
    pod_labels = [
        o["spec"]["template"]["metadata"]["labels"] for o in objects if o["kind"] == "Deployment"
    ]
    for kind, name in kinds(report):
        if kind == "NetworkPolicy" and name != "default-deny":
            selector = find(report, "NetworkPolicy", str(name))["spec"]["podSelector"][
                "matchLabels"
            ]
            assert any(selector.items() <= labels.items() for labels in pod_labels), name


def _policy(report: SynthReport, name: str) -> Any:
    return find(report, "NetworkPolicy", name)["spec"]


def _selects_its_pods(report: SynthReport, policy: str, deployment: str) -> bool:
    selector = _policy(report, policy)["podSelector"]["matchLabels"]
    labels = find(report, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    return bool(selector) and selector.items() <= labels.items()


GATEWAY_PODS = {
    "podSelector": {
        "matchLabels": {
            "app.kubernetes.io/name": "litellm",
            "app.kubernetes.io/component": "llm-gateway",
        }
    }
}


def test_hardening_valkey_admits_only_litellm_and_metrics_only_the_scraper(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    """Under default-deny ingress: the in-cluster Valkey's port from the LiteLLM pods only, the
    metrics port from the configured monitoring namespace and pods only."""
    dev = ENVIRONMENTS["dev"]
    metrics = MetricsSpec(
        service_monitor_labels={"release": "prometheus"},
        scraper_namespace={"team": "observability"},
        scraper_pods={"app.kubernetes.io/name": "prometheus"},
    )
    report = synth(replace(dev, metrics=metrics), fixture_secrets, tmp_path)
    valkey = _policy(report, "valkey-ingress")
    assert valkey["policyTypes"] == ["Ingress"]
    assert valkey["ingress"] == [
        {"from": [GATEWAY_PODS], "ports": [{"protocol": "TCP", "port": 6379}]}
    ]
    assert _selects_its_pods(report, "valkey-ingress", "valkey")
    assert not _selects_its_pods(report, "valkey-ingress", "litellm")
    scrape = _policy(report, "litellm-metrics-ingress")
    assert scrape["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"team": "observability"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 9090}],
        }
    ]
    assert _selects_its_pods(report, "litellm-metrics-ingress", "litellm")
    # The proxy's own port stays open to the ingress controller and apps, not to the scraper.
    (gateway_rule,) = _policy(report, "litellm-ingress")["ingress"]
    assert gateway_rule["ports"] == [{"protocol": "TCP", "port": 4000}]
    # Without metrics there is no metrics policy; without an in-cluster Valkey no Valkey policy.
    plain = synth(replace(dev, metrics=None), fixture_secrets, tmp_path, "plain")
    assert ("NetworkPolicy", "litellm-metrics-ingress") not in kinds(plain)
    assert ("NetworkPolicy", "valkey-ingress") in kinds(plain)


def test_hardening_prod_metrics_from_monitoring_and_egress_to_its_redis_namespace(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    prod = ENVIRONMENTS["prod"]
    report = synth(prod, fixture_secrets, tmp_path)
    assert ("NetworkPolicy", "valkey-ingress") not in kinds(report)
    (scrape_rule,) = _policy(report, "litellm-metrics-ingress")["ingress"]
    assert scrape_rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    egress = _policy(report, "litellm-egress")["egress"]
    redis_namespace = {"matchLabels": {"kubernetes.io/metadata.name": "valkey"}}
    assert {
        "to": [{"namespaceSelector": redis_namespace}],
        "ports": [{"protocol": "TCP", "port": 6379}],
    } in egress
    # The CIDR rule stays what the providers need: HTTPS only.
    assert egress[-1]["ports"] == [{"protocol": "TCP", "port": 443}]


def test_hardening_egress_to_an_external_redis_goes_to_the_cidr_blocks(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    """A managed Redis outside the cluster has no namespace: its port joins the CIDR rule."""
    prod = ENVIRONMENTS["prod"]
    external = ExistingRedis(host="redis.example.net", port=6380, tls=True)
    report = synth(replace(prod, redis=external), fixture_secrets, tmp_path)
    egress = _policy(report, "litellm-egress")["egress"]
    assert [rule for rule in egress if "namespaceSelector" in str(rule.get("to"))] == [
        egress[0],  # DNS
        # prod's Postgres, in its namespace
        {
            "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "postgres"}}}],
            "ports": [{"protocol": "TCP", "port": 5432}],
        },
    ]
    assert egress[-1] == {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}],
        "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6380}],
    }


def test_hardening_dns_egress_reaches_node_local_dns_at_its_cidr(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    """NodeLocal DNSCache listens on a link-local address of every node: no pod selector
    matches it, so it is admitted by address, next to the kube-dns pods."""
    prod = ENVIRONMENTS["prod"]
    network = replace(prod.network, dns_cidrs=("169.254.20.10/32",))
    report = synth(replace(prod, network=network), fixture_secrets, tmp_path)
    dns_rule = _policy(report, "litellm-egress")["egress"][0]
    assert dns_rule == {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            },
            {"ipBlock": {"cidr": "169.254.20.10/32"}},
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: NetworkSpec(dns_cidrs=("node-local-dns",)),
            "network dns_cidrs entry 'node-local-dns' is not a CIDR block such as "
            "'0.0.0.0/0' or '203.0.113.0/24'",
        ),
        (
            lambda: MetricsSpec(scraper_namespace={}),
            "metrics scraper_namespace is empty, which would open the metrics port to every "
            "namespace: give its labels, e.g. {'kubernetes.io/metadata.name': 'monitoring'}",
        ),
        (
            lambda: MetricsSpec(scraper_pods={"app": "prom etheus"}),
            "metrics scraper_pods: 'app: prom etheus' is not a valid Kubernetes label",
        ),
        (
            lambda: check_environment(
                replace(ENVIRONMENTS["prod"], redis=ExistingRedis(host="r", namespace_labels={}))
            ),
            "lib/environments.py, environment 'prod': redis namespace_labels is empty, which "
            "would let LiteLLM reach the Redis port in every namespace: give the labels of its "
            "namespace, or None for a server outside the cluster",
        ),
        (
            lambda: check_environment(
                replace(
                    ENVIRONMENTS["prod"],
                    redis=ExistingRedis(host="r", namespace_labels={"-bad": "x"}),
                )
            ),
            "lib/environments.py, environment 'prod': redis namespace_labels: '-bad: x' is not "
            "a valid Kubernetes label",
        ),
    ],
)
def test_hardening_scraper_and_redis_namespace_selectors_refused(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(SynthError) as raised:
        build()
    assert str(raised.value) == message


def test_hardening_single_replica_has_no_budget_or_spread(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    report = synth(ENVIRONMENTS["dev"], fixture_secrets, tmp_path)
    assert not {"PodDisruptionBudget", "HorizontalPodAutoscaler"} & {k for k, _ in kinds(report)}
    pod = find(report, "Deployment", "litellm")["spec"]["template"]["spec"]
    assert "topologySpreadConstraints" not in pod


def test_hardening_replicas_without_autoscaling_get_budget_and_node_spread(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    dev = ENVIRONMENTS["dev"]
    environment = replace(dev, gateway=replace(dev.gateway, replicas=3))
    report = synth(environment, fixture_secrets, tmp_path)
    deployment = find(report, "Deployment", "litellm")
    labels = {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "llm-gateway"}
    assert deployment["spec"]["replicas"] == 3
    assert find(report, "PodDisruptionBudget", "litellm")["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": labels},
        # A crash-looping pod must not block node drains.
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
    (spread,) = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    # A preference: a hard rule would leave surges Pending when the balancing node is full.
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    # Cordoned (tainted) nodes do not count in the skew, so a drain can reschedule.
    assert spread["nodeTaintsPolicy"] == "Honor"
    assert spread["labelSelector"] == {"matchLabels": labels}
    assert labels.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert ("HorizontalPodAutoscaler", "litellm") not in kinds(report)


def test_hardening_prod_autoscales_on_cpu_and_outlasts_the_drain(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    prod = ENVIRONMENTS["prod"]
    report = synth(prod, fixture_secrets, tmp_path)
    hpa = find(report, "HorizontalPodAutoscaler", "litellm")["spec"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "litellm",
    }
    pod = find(report, "Deployment", "litellm")["spec"]["template"]["spec"]
    (main_container,) = pod["containers"]
    drain = {e["name"]: e["value"] for e in main_container["env"]}["GRACEFUL_SHUTDOWN_TIMEOUT"]
    sleep = main_container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + int(drain)
    assert {
        (c["topologyKey"], c["nodeTaintsPolicy"]) for c in pod["topologySpreadConstraints"]
    } == {("kubernetes.io/hostname", "Honor"), ("topology.kubernetes.io/zone", "Honor")}


def test_hardening_app_probes_come_from_the_spec_or_an_explicit_opt_out(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    dev = ENVIRONMENTS["dev"]
    probed = find(synth(dev, fixture_secrets, tmp_path, "a"), "Deployment", "backend")
    container = probed["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/", "port": 5678, "scheme": "HTTP"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/"

    unprobed_env = replace(dev, apps=(replace(dev.apps[0], probes=NoProbes(reason="batch job")),))
    unprobed = find(synth(unprobed_env, fixture_secrets, tmp_path, "b"), "Deployment", "backend")
    container = unprobed["spec"]["template"]["spec"]["containers"][0]
    assert "readinessProbe" not in container
    assert "livenessProbe" not in container


def test_hardening_proxy_writable_paths_come_from_litellm_runtime(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The construct mounts whatever lib/litellm_runtime.py declares: no path is its own."""
    mounts = (
        WritableMount(name="scratch", path="/var/scratch", size_limit_mib=64, why="test"),
        WritableMount(name="ui", path="/var/lib/ui", size_limit_mib=32, why="test"),
    )
    monkeypatch.setattr(litellm_runtime, "WRITABLE_MOUNTS", mounts)
    monkeypatch.setattr(litellm_runtime, "RUNTIME_ENV", MappingProxyType({"UI_DIR": "/var/lib/ui"}))
    report = synth(ENVIRONMENTS["dev"], fixture_secrets, tmp_path)
    pod = find(report, "Deployment", "litellm")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes: Mapping[str, Any] = {v["name"]: v for v in pod["volumes"]}
    assert [(m["name"], m["mountPath"]) for m in container["volumeMounts"][1:]] == [
        ("scratch", "/var/scratch"),
        ("ui", "/var/lib/ui"),
    ]
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}}
    assert volumes["ui"] == {"name": "ui", "emptyDir": {"sizeLimit": "32Mi"}}
    assert {"name": "UI_DIR", "value": "/var/lib/ui"} in container["env"]
    assert container["securityContext"]["runAsUser"] == litellm_runtime.PROXY_UID


def test_hardening_image_refs_in_the_shipped_table() -> None:
    for environment in ENVIRONMENTS.values():
        assert isinstance(environment.gateway.image, ImageRef)
        assert environment.gateway.image.repository == "ghcr.io/berriai/litellm-non_root"
        assert environment.gateway.image.tag == "v1.106.12"
