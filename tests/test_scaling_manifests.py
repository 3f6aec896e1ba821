"""Redis, workers and metrics in the synthesized objects, and the environment checks for them."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lib.environments import ENVIRONMENTS, Environment, check_environment
from lib.errors import SynthError
from lib.litellm_runtime import memory_budget
from lib.specs.metrics import MetricsSpec
from lib.specs.redis import ExistingRedis, InClusterValkey
from lib.synthesis import SynthReport, SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, AgeKey
from tests.schema_validation import SchemaValidationError, validate_strict

DEV = ENVIRONMENTS["dev"]
PROD = ENVIRONMENTS["prod"]
WHERE = "lib/environments.py, environment 'dev'"


def synth(environment: Environment, secrets: Path, outdir: Path) -> SynthReport:
    return synthesize(
        SynthRequest(environment=environment.name, outdir=outdir, secrets_file=secrets),
        {environment.name: environment},
    )


def objects(report: SynthReport) -> list[Any]:
    return list(report.objects)


def find(report: SynthReport, kind: str, name: str) -> Any:
    (found,) = [o for o in objects(report) if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def main_container(report: SynthReport, name: str) -> Any:
    (container,) = find(report, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    return container


def test_scaling_valkey_is_hardened_and_gets_only_its_password(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    report = synth(DEV, fixture_secrets, tmp_path / "dist")
    pod = find(report, "Deployment", "valkey")["spec"]["template"]["spec"]
    (valkey,) = pod["containers"]
    context = valkey["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == context["runAsGroup"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False
    (mount,) = valkey["volumeMounts"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert mount["mountPath"] == valkey["args"][valkey["args"].index("--dir") + 1]
    assert "emptyDir" in volume
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert valkey[probe]["tcpSocket"] == {"port": 6379}
    assert valkey["resources"]["limits"]["memory"]
    # Ephemeral: no snapshots, no append-only file.
    args = valkey["args"]
    assert args[args.index("--save") + 1] == ""
    assert args[args.index("--appendonly") + 1] == "no"
    # One key, by reference; the value is never in the pod spec.
    assert "envFrom" not in valkey
    assert valkey["env"] == [
        {
            "name": "REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "litellm-secrets", "key": "REDIS_PASSWORD"}},
        }
    ]
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    service = find(report, "Service", "valkey")
    assert service["spec"]["ports"] == [{"name": "redis", "port": 6379, "targetPort": 6379}]
    pod_labels = find(report, "Deployment", "valkey")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    # LiteLLM is pointed at the Service; its password arrives with the group (envFrom), so no
    # single-key REDIS_* entry and no value is added next to the plain ones.
    litellm_env = {e["name"]: e for e in main_container(report, "litellm")["env"]}
    redis_env = {name: e for name, e in litellm_env.items() if name.startswith("REDIS_")}
    assert redis_env == {
        "REDIS_HOST": {"name": "REDIS_HOST", "value": "valkey"},
        "REDIS_PORT": {"name": "REDIS_PORT", "value": "6379"},
    }


def test_scaling_prod_workers_metrics_and_existing_redis(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    report = synth(PROD, fixture_secrets, tmp_path / "dist")
    litellm = main_container(report, "litellm")
    args = litellm["args"]
    assert args[args.index("--num_workers") + 1] == str(PROD.gateway.workers)
    assert args[args.index("--prometheus_metrics_port") + 1] == "9090"
    env = {e["name"]: e["value"] for e in litellm["env"]}
    assert env["REDIS_HOST"] == "valkey-primary.valkey.svc.cluster.local"
    multiproc = env["PROMETHEUS_MULTIPROC_DIR"]
    (mount,) = [m for m in litellm["volumeMounts"] if m["mountPath"] == multiproc]
    volumes = find(report, "Deployment", "litellm")["spec"]["template"]["spec"]["volumes"]
    assert "emptyDir" in next(v for v in volumes if v["name"] == mount["name"])
    assert not mount.get("readOnly", False)
    assert not [o for o in objects(report) if o["metadata"]["name"] == "valkey"]
    # The route never leads to the metrics port.
    (rule,) = find(report, "HTTPRoute", "litellm")["spec"]["rules"]
    assert [ref["port"] for ref in rule["backendRefs"]] == [4000]
    monitor = find(report, "ServiceMonitor", "litellm")
    service = find(report, "Service", "litellm")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] in [p["name"] for p in service["spec"]["ports"]]
    # Memory and CPU for its layout: supervisor + 2 workers + the metrics server (~1.1 GB idle),
    # not the single process's 512Mi; CPU: 12m idle for the four processes (measured) plus half
    # a core of serving per worker (lib/litellm_runtime.py).
    assert litellm["resources"] == {
        "requests": {"cpu": "1012m", "memory": "1544Mi"},
        "limits": {"memory": "4616Mi"},
    }
    # What kube-prometheus-stack's Prometheus selects ServiceMonitors by.
    assert monitor["metadata"]["labels"] == {"release": "kube-prometheus-stack"}


@pytest.mark.parametrize(
    ("workers", "metrics", "request_mib", "limit_mib"),
    [
        # One process (dev): as before the layout was counted.
        (1, False, 512, 2048),
        # One process and the metrics server.
        (1, True, 712, 2248),
        # Supervisor + 2 workers + metrics (prod): measured ~1.1 GB idle.
        (2, True, 1544, 4616),
        # Each worker more: a full proxy process and its requests in flight.
        (4, False, 2368, 8512),
    ],
)
def test_scaling_memory_follows_the_process_layout(
    workers: int, metrics: bool, request_mib: int, limit_mib: int
) -> None:
    budget = memory_budget(workers=workers, metrics=metrics)
    assert (budget.request_mib, budget.limit_mib) == (request_mib, limit_mib)
    idle_mib = 1100 * 10**6 // 2**20  # prod layout's measured idle RSS
    assert memory_budget(workers=2, metrics=True).request_mib > idle_mib


def test_scaling_service_monitor_strict_schema_catches_a_typo(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    monitor = copy.deepcopy(
        find(synth(PROD, fixture_secrets, tmp_path / "dist"), "ServiceMonitor", "litellm")
    )
    validate_strict(monitor)
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(SchemaValidationError, match="intervall"):
        validate_strict(monitor)


def test_scaling_password_key_under_another_name_reaches_the_proxy_as_redis_password(
    encrypted: Any, with_test_key: AgeKey, tmp_path: Path
) -> None:
    litellm = {k: v for k, v in FAKE_SECRETS["litellm"].items() if k != "REDIS_PASSWORD"}
    secrets = encrypted({**FAKE_SECRETS, "litellm": {**litellm, "VALKEY_PASSWORD": "pw-1234"}})
    environment = replace(PROD, redis=ExistingRedis(host="cache", password_key="VALKEY_PASSWORD"))
    report = synth(environment, secrets, tmp_path / "dist")
    env = main_container(report, "litellm")["env"]
    assert {
        "name": "REDIS_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "litellm-secrets", "key": "VALKEY_PASSWORD"}},
    } in env


def test_scaling_missing_password_key_is_refused_by_name(
    encrypted: Any, with_test_key: AgeKey, tmp_path: Path
) -> None:
    litellm = {k: v for k, v in FAKE_SECRETS["litellm"].items() if k != "REDIS_PASSWORD"}
    secrets = encrypted({**FAKE_SECRETS, "litellm": litellm})
    with pytest.raises(SynthError) as caught:
        synth(DEV, secrets, tmp_path / "dist")
    assert str(caught.value) == (
        f"{WHERE}: redis password_key 'REDIS_PASSWORD' is not a key the LiteLLM pod receives: "
        f"add it to group 'litellm' with `make edit-secrets SECRETS={secrets}` (any long random "
        "string: the "
        "in-cluster Valkey is set up with it)"
    )
    assert not (tmp_path / "dist").exists()


ENVIRONMENT_ERRORS = {
    "two replicas, no redis": (
        replace(DEV, redis=None, gateway=replace(DEV.gateway, replicas=2)),
        "2 replicas x 1 workers without Redis: rate limits, cooldowns and the cache would be "
        "kept per process; set redis (ExistingRedis or InClusterValkey) or run 1 replica with "
        "1 worker",
    ),
    "two workers, no redis": (
        replace(DEV, redis=None, gateway=replace(DEV.gateway, workers=2)),
        "1 replicas x 2 workers without Redis: rate limits, cooldowns and the cache would be "
        "kept per process; set redis (ExistingRedis or InClusterValkey) or run 1 replica with "
        "1 worker",
    ),
    "host with a scheme": (
        replace(DEV, redis=ExistingRedis(host="redis://cache:6379")),
        "redis host 'redis://cache:6379' must be a host name, without scheme, port or "
        "credentials: set port and tls separately, the password with password_key",
    ),
    "host with credentials, not echoed": (
        replace(DEV, redis=ExistingRedis(host="admin:hunter2@cache")),
        "redis host must be a host name, without scheme, port or credentials: set port and tls "
        "separately, the password with password_key",
    ),
    "port out of range": (
        replace(DEV, redis=ExistingRedis(host="cache", port=70000)),
        "redis needs a port in 1-65535 and a db number >= 0",
    ),
    "password key not a variable name": (
        replace(DEV, redis=ExistingRedis(host="cache", password_key="redis-password")),
        "redis password_key 'redis-password' is not an environment variable name",
    ),
    "valkey named like an app": (
        replace(DEV, redis=InClusterValkey(name="backend")),
        "valkey name 'backend' must be a DNS-1123 label that no app or the proxy uses",
    ),
    "valkey as root": (
        replace(DEV, redis=InClusterValkey(run_as_user=0)),
        "valkey needs max_memory_mib >= 16 and a non-root run_as_user",
    ),
    "metrics on the proxy port": (
        replace(DEV, metrics=MetricsSpec(port=4000)),
        "metrics port 4000 must be in 1-65535 and differ from the proxy's port 4000",
    ),
    "request body larger than tmp holds": (
        replace(DEV, gateway=replace(DEV.gateway, max_request_body_mib=33)),
        "gateway max_request_body_mib 33 must be 1-32: uploads over 1 MiB spool to the proxy's "
        "/tmp emptyDir (256Mi, TMP_MOUNT in lib/litellm_runtime.py), which must hold 8 of them "
        "at once; raise its size_limit_mib with the body size",
    ),
    "request body of zero": (
        replace(DEV, gateway=replace(DEV.gateway, max_request_body_mib=0)),
        "gateway max_request_body_mib 0 must be 1-32: uploads over 1 MiB spool to the proxy's "
        "/tmp emptyDir (256Mi, TMP_MOUNT in lib/litellm_runtime.py), which must hold 8 of them "
        "at once; raise its size_limit_mib with the body size",
    ),
    "service monitor no prometheus selects": (
        replace(DEV, metrics=MetricsSpec()),
        "metrics service_monitor has no service_monitor_labels, so no Prometheus selects it: "
        "set the labels your Prometheus's serviceMonitorSelector matches "
        "(kube-prometheus-stack: {'release': '<its release name>'}, e.g. "
        "{'release': 'kube-prometheus-stack'}), or service_monitor=False",
    ),
}


@pytest.mark.parametrize("case", sorted(ENVIRONMENT_ERRORS))
def test_scaling_environment_refused_with_one_line(case: str) -> None:
    environment, message = ENVIRONMENT_ERRORS[case]
    with pytest.raises(SynthError) as caught:
        check_environment(environment)
    assert str(caught.value) == f"{WHERE}: {message}"


def test_scaling_shipped_environments_pass_their_checks() -> None:
    for environment in ENVIRONMENTS.values():
        check_environment(environment)
    assert PROD.redis is not None
    assert PROD.metrics is not None
    assert PROD.metrics.service_monitor
    assert PROD.metrics.service_monitor_labels
    # Without a ServiceMonitor no label is needed.
    check_environment(replace(DEV, metrics=MetricsSpec(service_monitor=False)))
    assert DEV.proxy.cache is not None
    assert isinstance(DEV.redis, InClusterValkey)
    assert DEV.proxy.router.fallbacks["gpt-4o-mini"] == ("openrouter-default",)


def test_scaling_request_body_not_a_whole_number_is_refused_as_built() -> None:
    # True is an int to Python; to the field it is a slip (lib/specs/field_types.py).
    with pytest.raises(SynthError) as refused:
        replace(DEV, gateway=replace(DEV.gateway, max_request_body_mib=True))
    assert str(refused.value) == (
        "gateway.max_request_body_mib is the bool True, not an int: write an int"
    )
