"""The synthesized objects: pinned as YAML snapshots, checked against the Kubernetes 1.28 schema,
and their wiring asserted directly."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from syrupy.assertion import SnapshotAssertion

from lib.environments import ENVIRONMENTS, PathPrefixMode, SecretMode
from lib.litellm_runtime import PROXY_GID, PROXY_UID, RUNTIME_ENV, TMP_MOUNT, WRITABLE_MOUNTS
from lib.specs.metrics import MULTIPROC_MOUNT
from lib.synthesis import SynthReport, SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, AgeKey, all_values, tree_bytes
from tests.schema_validation import validate_strict

KUBERNETES_VERSION = "1.28"


@pytest.fixture(params=sorted(ENVIRONMENTS))
def report(
    request: pytest.FixtureRequest, fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> SynthReport:
    return synthesize(
        SynthRequest(
            environment=request.param, outdir=tmp_path / "dist", secrets_file=fixture_secrets
        )
    )


def objects(report: SynthReport) -> list[Mapping[str, Any]]:
    return list(report.objects)


def find(report: SynthReport, kind: str, name: str) -> Mapping[str, Any]:
    matches = [o for o in objects(report) if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}"
    return matches[0]


def container(deployment: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def test_manifests_snapshot(report: SynthReport, yaml_snapshot: SnapshotAssertion) -> None:
    text = "".join(
        f"# ---- dist/{rendered.name} ----\n{rendered.text}" for rendered in report.files
    )
    assert text == yaml_snapshot


def test_manifests_are_valid_objects_in_strict_mode(report: SynthReport) -> None:
    """Kubernetes 1.28 and the vendored ExternalSecret v1 schema; unknown fields refused."""
    for obj in objects(report):
        validate_strict(obj)


def test_manifests_strict_schema_check_catches_an_unknown_field(report: SynthReport) -> None:
    """Guards the test above: the validator must reject what the API server would."""
    deployment = dict(find(report, "Deployment", "litellm"))
    deployment["spec"] = {**deployment["spec"], "replicaz": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_manifests_one_secret_object_per_group(report: SynthReport) -> None:
    mode = ENVIRONMENTS[report.environment].secret_mode
    secret_files = [f for f in report.files if "secrets" in f.name]
    assert len(secret_files) == 1
    if mode is SecretMode.PLAIN:
        for group, values in FAKE_SECRETS.items():
            assert find(report, "Secret", f"{group}-secrets")["stringData"] == values
        assert secret_files[0].private
    else:
        assert mode is SecretMode.EXTERNAL
        for group, values in FAKE_SECRETS.items():
            external = find(report, "ExternalSecret", f"{group}-secrets")
            assert external["spec"]["target"]["name"] == f"{group}-secrets"
            assert [d["secretKey"] for d in external["spec"]["data"]] == list(values)
        assert not any(o["kind"] == "Secret" for o in objects(report))
        assert not secret_files[0].private
        everything = "".join(f.text for f in report.files)
        for value in all_values(FAKE_SECRETS):
            assert value not in everything


def test_manifests_litellm_gets_only_its_own_group(report: SynthReport) -> None:
    litellm = container(find(report, "Deployment", "litellm"))
    assert litellm["envFrom"] == [{"secretRef": {"name": "litellm-secrets"}}]


def test_manifests_each_app_gets_exactly_its_declared_groups(report: SynthReport) -> None:
    environment = ENVIRONMENTS[report.environment]
    for app in environment.apps:
        wired = container(find(report, "Deployment", app.name)).get("envFrom", [])
        assert wired == [{"secretRef": {"name": f"{g}-secrets"}} for g in app.secret_groups]


def test_manifests_litellm_deployment_shape(report: SynthReport) -> None:
    environment = ENVIRONMENTS[report.environment]
    deployment = find(report, "Deployment", "litellm")
    if environment.gateway.availability.autoscaling:
        # The autoscaler owns the count; a fixed one would be re-applied over its decision.
        assert "replicas" not in deployment["spec"]
        assert find(report, "HorizontalPodAutoscaler", "litellm")["spec"]["minReplicas"] == (
            environment.gateway.replicas
        )
    else:
        assert deployment["spec"]["replicas"] == environment.gateway.replicas
    main = container(deployment)
    assert main["image"] == str(environment.gateway.image)
    assert main["image"].startswith("ghcr.io/berriai/litellm-non_root:v1.106.12")
    metrics_port = [{"containerPort": 9090, "name": "metrics"}] if environment.metrics else []
    assert main["ports"] == [{"containerPort": 4000, "name": "http"}, *metrics_port]
    assert main["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert main["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    startup = main["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    # Locked down: the non-root user, a read-only root, writes only into its emptyDirs (the
    # end-to-end test runs the real proxy exactly so).
    pod_security = deployment["spec"]["template"]["spec"]["securityContext"]
    for security in (main["securityContext"], pod_security):
        assert security["runAsNonRoot"] is True
        assert (security["runAsUser"], security["runAsGroup"]) == (PROXY_UID, PROXY_GID)
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    writable = {
        m["mountPath"]: volumes[m["name"]]["emptyDir"]["sizeLimit"]
        for m in main["volumeMounts"]
        if "emptyDir" in volumes[m["name"]]
    }
    # The metrics port's multiprocess directory is writable too, where metrics are on.
    expected = (*WRITABLE_MOUNTS, *((MULTIPROC_MOUNT,) if environment.metrics else ()))
    assert writable == {m.path: f"{m.size_limit_mib}Mi" for m in expected}
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env.items() >= RUNTIME_ENV.items()
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_manifests_litellm_uses_its_bundled_cost_map(report: SynthReport) -> None:
    """No fetch of the model cost map from raw.githubusercontent.com at every boot."""
    env = {
        e["name"]: e.get("value") for e in container(find(report, "Deployment", "litellm"))["env"]
    }
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_manifests_services_select_their_pods(report: SynthReport) -> None:
    deployments = [o["metadata"]["name"] for o in objects(report) if o["kind"] == "Deployment"]
    assert {"litellm", *(app.name for app in ENVIRONMENTS[report.environment].apps)} <= set(
        deployments
    )
    for name in deployments:
        deployment = find(report, "Deployment", name)
        service = find(report, "Service", name)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        ports = [p["containerPort"] for p in container(deployment)["ports"]]
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ports


def test_manifests_route_strips_the_litellm_prefix(report: SynthReport) -> None:
    environment = ENVIRONMENTS[report.environment]
    if environment.gateway_route is not None:
        assert not any(o["kind"] == "Ingress" for o in objects(report))
        (rule,) = find(report, "HTTPRoute", "litellm")["spec"]["rules"]
        assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/litellm"}}]
        assert rule["filters"] == [
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }
        ]
        assert rule["backendRefs"] == [{"name": "litellm", "port": 4000}]
        return
    assert not any(o["kind"] == "HTTPRoute" for o in objects(report))
    if environment.path_prefix_mode is PathPrefixMode.ROOT_PATH:
        return  # dev keeps the prefix for its admin UI: the root-path test below
    ingress = find(report, "Ingress", "litellm")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/use-regex"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/rewrite-target"] == "/$2"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == environment.host
    (path,) = rule["http"]["paths"]
    assert path["pathType"] == "ImplementationSpecific"
    assert path["backend"]["service"] == {"name": "litellm", "port": {"number": 4000}}
    tls = ingress["spec"].get("tls")
    if environment.tls_secret_name:
        assert tls == [{"hosts": [environment.host], "secretName": environment.tls_secret_name}]
    else:
        assert tls is None


def test_manifests_route_lets_through_what_the_proxy_allows(report: SynthReport) -> None:
    """ingress-nginx's defaults (1m bodies, 60 s reads) would cut requests the config allows:
    413 for a large prompt or upload, 504 while LiteLLM still retries or falls back. A Gateway
    API route waits as long, in its standard timeouts (its body size has no standard field)."""
    environment = ENVIRONMENTS[report.environment]
    if environment.gateway_route is not None:
        (rule,) = find(report, "HTTPRoute", "litellm")["spec"]["rules"]
        # The worst case of the router settings (tests/proxy_config/test_timing.py, by hand).
        assert rule["timeouts"] == {"request": "794s", "backendRequest": "794s"}
        return
    annotations = find(report, "Ingress", "litellm")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "25m"
    # The worst case of the router settings (tests/proxy_config/test_timing.py, by hand).
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "794"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "794"
    slowest_model = max(m.timeout or 0 for m in environment.proxy.models)
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > slowest_model * (
        (environment.proxy.router.num_retries or 0) + 1
    )
    # /tmp holds several uploads of the largest size at once.
    assert TMP_MOUNT.size_limit_mib >= 8 * environment.gateway.max_request_body_mib


def test_manifests_ingress_limits_only_for_ingress_nginx(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    dev = ENVIRONMENTS["dev"]
    other = replace(
        dev,
        ingress_class="traefik",
        path_prefix_mode=PathPrefixMode.ROOT_PATH,
        gateway=replace(dev.gateway, max_request_body_mib=10),
    )
    report = synthesize(
        SynthRequest(environment="dev", outdir=tmp_path / "dist", secrets_file=fixture_secrets),
        {"dev": other},
    )
    assert "annotations" not in find(report, "Ingress", "litellm")["metadata"]
    body = replace(dev, gateway=replace(dev.gateway, max_request_body_mib=10))
    report = synthesize(
        SynthRequest(environment="dev", outdir=tmp_path / "dist2", secrets_file=fixture_secrets),
        {"dev": body},
    )
    annotations = find(report, "Ingress", "litellm")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "10m"


def test_manifests_prod_runs_at_least_two_litellm_replicas() -> None:
    assert ENVIRONMENTS["prod"].gateway.replicas >= 2
    assert ENVIRONMENTS["prod"].host == "backend.seance.dev"
    assert ENVIRONMENTS["dev"].host == "backend.dev.localhost"
    # prod's certificate is on the Gateway's HTTPS listener its route attaches to.
    route = ENVIRONMENTS["prod"].gateway_route
    assert route is not None
    assert route.section_name == "https"
    assert ENVIRONMENTS["prod"].tls_secret_name is None
    assert not ENVIRONMENTS["prod"].allow_demo_key


def test_manifests_everything_is_in_the_environment_namespace(report: SynthReport) -> None:
    namespace = ENVIRONMENTS[report.environment].namespace
    for obj in objects(report):
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == namespace
        else:
            assert obj["metadata"]["namespace"] == namespace


def test_manifests_no_name_hashes(report: SynthReport) -> None:
    egress = ENVIRONMENTS[report.environment].network.restrict_gateway_egress
    names = {o["metadata"]["name"] for o in objects(report)}
    environment = ENVIRONMENTS[report.environment]
    valkey = {"valkey", "valkey-ingress"} if report.environment == "dev" else set()
    postgres = {"postgres", "postgres-ingress"} if report.environment == "dev" else set()
    metrics = {"litellm-metrics-ingress"} if environment.metrics is not None else set()
    budgets = {"litellm-key-budgets"} if environment.metrics is not None else set()
    # One Job per release (migration) and per declaration and key values (keys).
    jobs = {name for name in names if name.startswith(("litellm-migrate-", "litellm-keys-"))}
    assert len(jobs) == 2
    assert names == {
        "seance",
        "litellm",
        "litellm-config",
        "litellm-secrets",
        "stripe-secrets",
        "backend",
        "default-deny",
        "litellm-ingress",
        "backend-ingress",
        "chatbot",
        "chatbot-secrets",
        "litellm-database-gate",
        "litellm-key-reconciler",
        "litellm-key-declarations",
        *(["litellm-keys"] if environment.secret_mode is SecretMode.EXTERNAL else []),
        *(["litellm-egress"] if egress else []),
        *valkey,
        *postgres,
        *metrics,
        *budgets,
        *jobs,
    }


def test_manifests_config_is_mounted_where_the_args_point(report: SynthReport) -> None:
    deployment = find(report, "Deployment", "litellm")
    main = container(deployment)
    config_path = main["args"][main["args"].index("--config") + 1]
    assert main["args"][main["args"].index("--port") + 1] == "4000"
    (mount,) = [m for m in main["volumeMounts"] if m["name"] == "config"]
    assert config_path == f"{mount['mountPath']}/config.yaml"
    assert mount["readOnly"] is True
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mount["name"]]["configMap"]["name"] == "litellm-config"
    config = find(report, "ConfigMap", "litellm-config")
    general_settings = yaml.safe_load(config["data"]["config.yaml"])["general_settings"]
    assert general_settings["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_manifests_config_digest_is_the_config_hash(report: SynthReport) -> None:
    config_text = find(report, "ConfigMap", "litellm-config")["data"]["config.yaml"]
    annotations = find(report, "Deployment", "litellm")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert (
        annotations["seance.dev/config-digest"] == hashlib.sha256(config_text.encode()).hexdigest()
    )


def synth_with(
    document: object, encrypted: Callable[..., Path], tmp_path: Path, name: str, env: str = "dev"
) -> SynthReport:
    return synthesize(
        SynthRequest(
            environment=env,
            outdir=tmp_path / name,
            secrets_file=encrypted(document, f"{name}.yaml"),
        )
    )


def pod_annotations(report: SynthReport, deployment: str) -> Mapping[str, str]:
    return find(report, "Deployment", deployment)["spec"]["template"]["metadata"]["annotations"]  # type: ignore[no-any-return]


def test_manifests_rotating_a_key_rolls_only_its_consumers(
    encrypted: Callable[..., Path], with_test_key: AgeKey, tmp_path: Path
) -> None:
    first = synth_with(FAKE_SECRETS, encrypted, tmp_path, "first")
    again = synth_with(FAKE_SECRETS, encrypted, tmp_path, "again")
    assert tree_bytes(tmp_path / "first") == tree_bytes(tmp_path / "again")

    rotated = {
        **FAKE_SECRETS,
        "stripe": {**FAKE_SECRETS["stripe"], "STRIPE_SECRET_KEY": "sk_test_rotated"},
    }
    after = synth_with(rotated, encrypted, tmp_path, "rotated")
    assert pod_annotations(after, "backend") != pod_annotations(first, "backend")
    assert pod_annotations(after, "litellm") == pod_annotations(again, "litellm")

    openai_rotated = {
        **FAKE_SECRETS,
        "litellm": {**FAKE_SECRETS["litellm"], "OPENAI_API_KEY": "sk-rotated"},
    }
    after = synth_with(openai_rotated, encrypted, tmp_path, "openai")
    assert (
        pod_annotations(after, "litellm")["seance.dev/secrets-digest"]
        != pod_annotations(first, "litellm")["seance.dev/secrets-digest"]
    )
    assert pod_annotations(after, "backend") == pod_annotations(first, "backend")

    # The Redis password: the proxy and the in-cluster Valkey restart together, or the proxy
    # would present a password the running Valkey does not have.
    redis_rotated = {
        **FAKE_SECRETS,
        "litellm": {**FAKE_SECRETS["litellm"], "REDIS_PASSWORD": "rotated-redis-password"},
    }
    after = synth_with(redis_rotated, encrypted, tmp_path, "redis")
    for workload in ("litellm", "valkey"):
        assert pod_annotations(after, workload) != pod_annotations(first, workload), workload
    assert pod_annotations(after, "backend") == pod_annotations(first, "backend")


def test_manifests_root_path_mode_keeps_the_prefix_and_tells_litellm(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    environments = {"dev": replace(ENVIRONMENTS["dev"], path_prefix_mode=PathPrefixMode.ROOT_PATH)}
    report = synthesize(
        SynthRequest(environment="dev", outdir=tmp_path / "dist", secrets_file=fixture_secrets),
        environments,
    )
    ingress = find(report, "Ingress", "litellm")
    # No rewrite: only ingress-nginx's limits (body size, timeouts) remain.
    assert not any(
        key.endswith(("/use-regex", "/rewrite-target"))
        for key in ingress["metadata"]["annotations"]
    )
    (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/litellm", "Prefix")
    env = container(find(report, "Deployment", "litellm"))["env"]
    assert {e["name"]: e.get("value") for e in env}.items() >= {
        **RUNTIME_ENV,
        "SERVER_ROOT_PATH": "/litellm",
    }.items()
    for obj in objects(report):
        kubernetes_validate.validate(dict(obj), KUBERNETES_VERSION, strict=True)


def test_manifests_report_repr_never_shows_a_value(report: SynthReport) -> None:
    """pytest prints reprs on failure: the report must not carry values into them."""
    for value in all_values(FAKE_SECRETS):
        assert value not in repr(report)
