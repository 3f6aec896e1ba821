"""The database, the migration and key Jobs and the per-app keys, as synthesized for dev and
prod: who receives which secret, what the app is told, when the Jobs run again."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lib.environments import ENVIRONMENTS
from lib.synthesis import SynthReport, SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, AgeKey, encrypt_document, new_age_key

# Keys no app may ever receive: the whole LiteLLM group (master key, salt key, provider keys,
# Redis and database passwords).
GUARDED = frozenset(FAKE_SECRETS["litellm"])
# Per workload, the guarded keys it needs, and nothing more.
ALLOWED = {
    "litellm": GUARDED,
    "valkey": {"REDIS_PASSWORD"},
    "postgres": {"DATABASE_PASSWORD"},
    "litellm-migrate": {"DATABASE_PASSWORD", "LITELLM_SALT_KEY"},
    "litellm-keys": {"LITELLM_MASTER_KEY"},
}


def synth(environment: str, secrets: Path, outdir: Path, **changes: Any) -> SynthReport:
    environments = {environment: replace(ENVIRONMENTS[environment], **changes)}
    return synthesize(
        SynthRequest(environment=environment, outdir=outdir, secrets_file=secrets), environments
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SynthReport]:
    """One synth of dev and one of prod for the module (each takes seconds here)."""
    root = tmp_path_factory.mktemp("gateway")
    key = new_age_key(root)
    secrets_file = encrypt_document(FAKE_SECRETS, root / "secrets.yaml", key.recipient)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
        return {name: synth(name, secrets_file, root / name) for name in ("dev", "prod")}


@pytest.fixture(params=["dev", "prod"])
def report(request: pytest.FixtureRequest, reports: dict[str, SynthReport]) -> SynthReport:
    return reports[request.param]


def objects(report: SynthReport) -> list[Any]:
    return list(report.objects)


def pod_templates(report: SynthReport) -> dict[str, Mapping[str, Any]]:
    """Workload name (a Job's without its digest) -> pod spec; CronJobs as '<name>-cron'."""
    pods: dict[str, Mapping[str, Any]] = {}
    for obj in objects(report):
        name = obj["metadata"]["name"]
        if obj["kind"] == "Deployment":
            pods[name] = obj["spec"]["template"]["spec"]
        elif obj["kind"] == "Job":
            pods[name.rsplit("-", 1)[0]] = obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            pods[f"{name}-cron"] = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pods


def received(pod: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(group, key) pairs a pod can read, from envFrom, env and Secret volumes."""
    found: set[tuple[str, str]] = set()
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        for source in container.get("envFrom", []):
            group = source["secretRef"]["name"].removesuffix("-secrets")
            found |= {(group, key) for key in FAKE_SECRETS[group]}
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found.add((ref["name"].removesuffix("-secrets"), ref["key"]))
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            group = volume["secret"]["secretName"].removesuffix("-secrets")
            items = volume["secret"].get("items")
            found |= (
                {(group, i["key"]) for i in items}
                if items
                else {(group, key) for key in FAKE_SECRETS[group]}
            )
    return found


def test_gateway_no_pod_receives_a_guarded_key_it_does_not_need(report: SynthReport) -> None:
    pods = pod_templates(report)
    assert {"litellm", "litellm-migrate", "litellm-keys", "backend", "chatbot"} <= set(pods)
    for name, pod in pods.items():
        guarded = {key for group, key in received(pod) if group == "litellm"}
        allowed = ALLOWED.get(name.removesuffix("-cron"), set())
        assert guarded <= allowed, f"{name} receives {sorted(guarded - allowed)}"


def test_gateway_each_app_key_reaches_its_app_and_the_reconciler_only(report: SynthReport) -> None:
    holders = {
        name
        for name, pod in pod_templates(report).items()
        if ("chatbot", "LITELLM_API_KEY") in received(pod)
    }
    assert holders == {"chatbot", "litellm-keys"} | (
        {"litellm-keys-cron"} if report.environment == "prod" else set()
    )


def test_gateway_app_gets_its_key_and_base_url_under_the_names_it_chose(
    report: SynthReport,
) -> None:
    chatbot = pod_templates(report)["chatbot"]
    (container,) = chatbot["containers"]
    env = {v["name"]: v for v in container["env"]}
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "chatbot-secrets",
        "key": "LITELLM_API_KEY",
    }
    assert env["OPENAI_BASE_URL"]["value"] == "http://litellm.seance.svc.cluster.local:4000/v1"
    assert "envFrom" not in container
    (gate,) = chatbot["initContainers"]
    assert gate["command"] == ["python", "/reconciler/reconcile.py", "--wait-for-own-key"]


def test_gateway_default_variables_are_litellms(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    dev = ENVIRONMENTS["dev"]
    apps = tuple(
        replace(app, gateway=replace(app.gateway, variables=type(app.gateway.variables).LITELLM))
        if app.gateway is not None
        else app
        for app in dev.apps
    )
    report = synth("dev", fixture_secrets, tmp_path / "dist", apps=apps)
    (container,) = pod_templates(report)["chatbot"]["containers"]
    env = {v["name"]: v for v in container["env"]}
    assert set(env) == {"LITELLM_API_KEY", "LITELLM_BASE_URL"}
    assert env["LITELLM_BASE_URL"]["value"] == "http://litellm.seance.svc.cluster.local:4000"


def test_gateway_litellm_reads_the_database_from_parts_and_never_migrates(
    report: SynthReport,
) -> None:
    litellm = pod_templates(report)["litellm"]
    (container,) = litellm["containers"]
    env = {v["name"]: v.get("value") for v in container["env"]}
    host = (
        "postgres:5432"
        if report.environment == "dev"
        else ("postgres-rw.postgres.svc.cluster.local:5432")
    )
    assert env["DATABASE_HOST"] == host  # the CLI's URL builder ignores DATABASE_PORT
    assert "DATABASE_PORT" not in env
    assert "DATABASE_URL" not in env
    assert env["DATABASE_SSLMODE"] == ("disable" if report.environment == "dev" else "require")
    assert env["DISABLE_SCHEMA_UPDATE"] == "true"
    (gate,) = litellm["initContainers"]
    assert gate["command"] == ["python", "/database-gate/database_gate.py", "wait"]
    everything = "".join(rendered.text for rendered in report.files)
    assert "postgresql://" not in everything


def test_gateway_admin_ui_only_where_the_environment_says(report: SynthReport) -> None:
    (container,) = pod_templates(report)["litellm"]["containers"]
    env = {v["name"]: v.get("value") for v in container["env"]}
    off = {"DISABLE_ADMIN_UI": "True", "NO_DOCS": "True", "NO_REDOC": "True"}
    if report.environment == "prod":
        assert env.items() >= off.items()
    else:
        assert not set(off) & set(env)
        assert env["SERVER_ROOT_PATH"] == "/litellm"


def test_gateway_migration_job_runs_litellms_entry_point_after_the_salt_check(
    report: SynthReport,
) -> None:
    job = pod_templates(report)["litellm-migrate"]
    (migrate,) = job["containers"]
    assert (migrate["command"], migrate["args"]) == (["litellm"], ["--skip_server_startup"])
    (salt,) = job["initContainers"]
    assert salt["command"][-1] == "salt"
    assert {v["name"]: v.get("value") for v in salt["env"]}["ALLOW_SALT_KEY_ROTATION"] == "false"


def test_gateway_declarations_are_what_the_app_declares(report: SynthReport) -> None:
    (config,) = [o for o in objects(report) if o["metadata"]["name"] == "litellm-key-declarations"]
    assert json.loads(config["data"]["keys.json"]) == {
        "manager": f"seance/{report.environment}",
        "keys": [
            {
                "app": "chatbot",
                "alias": "chatbot",
                "models": ["gpt-4o-mini"],
                "max_budget": 20,
                "budget_duration": "30d",
                "rpm_limit": 60,
                "tpm_limit": 100000,
                "metadata": {},
                "rotation_grace": "1h",
                "key_file": "chatbot/LITELLM_API_KEY",
            }
        ],
    }


def test_gateway_only_apps_with_access_reach_the_litellm_port(report: SynthReport) -> None:
    (policy,) = [o for o in objects(report) if o["metadata"]["name"] == "litellm-ingress"]
    peers = [
        p.get("podSelector", {}).get("matchLabels", {})
        for p in policy["spec"]["ingress"][0]["from"]
    ]
    names = {labels.get("app.kubernetes.io/name") for labels in peers}
    assert {"chatbot", "litellm-keys"} <= names
    assert "backend" not in names


def job_names(report: SynthReport) -> dict[str, str]:
    return {
        o["metadata"]["name"].rsplit("-", 1)[0]: o["metadata"]["name"]
        for o in objects(report)
        if o["kind"] == "Job"
    }


def test_gateway_jobs_run_again_when_a_declaration_or_a_key_value_changes(
    encrypted: Callable[..., Path], with_test_key: AgeKey, tmp_path: Path
) -> None:
    def names(secrets: Any, name: str, **changes: Any) -> dict[str, str]:
        return job_names(
            synth("dev", encrypted(secrets, f"{name}.yaml"), tmp_path / name, **changes)
        )

    first = names(FAKE_SECRETS, "first")
    assert names(FAKE_SECRETS, "same") == first  # unchanged: the completed Jobs stay done
    rotated = {
        **FAKE_SECRETS,
        "chatbot": {"LITELLM_API_KEY": "sk-fixture-chatbot-rotated-99887766"},
    }
    after_rotation = names(rotated, "rotated")
    assert after_rotation["litellm-keys"] != first["litellm-keys"]
    assert after_rotation["litellm-migrate"] == first["litellm-migrate"]
    dev = ENVIRONMENTS["dev"]
    apps = tuple(
        replace(app, gateway=replace(app.gateway, rpm_limit=30)) if app.gateway else app
        for app in dev.apps
    )
    assert names(FAKE_SECRETS, "declared", apps=apps)["litellm-keys"] != first["litellm-keys"]
    # Any other release tag than the pinned one: a new release migrates again.
    image = replace(dev.gateway.image, tag=f"{dev.gateway.image.tag}-next")
    release = names(FAKE_SECRETS, "release", gateway=replace(dev.gateway, image=image))
    assert release["litellm-migrate"] != first["litellm-migrate"]


def test_gateway_budget_alert_where_metrics_and_a_budget_are_declared(report: SynthReport) -> None:
    rules = [o for o in objects(report) if o["kind"] == "PrometheusRule"]
    if ENVIRONMENTS[report.environment].metrics is None:
        assert rules == []
        return
    (rule,) = rules
    assert rule["metadata"]["labels"] == {"release": "kube-prometheus-stack"}
    (group,) = rule["spec"]["groups"]
    warn, exhausted = group["rules"]
    assert warn["expr"] == (
        'min by (api_key_alias) (litellm_remaining_api_key_budget_metric{api_key_alias="chatbot"})'
        " < 4"
    )
    assert exhausted["expr"].endswith(" <= 0")
