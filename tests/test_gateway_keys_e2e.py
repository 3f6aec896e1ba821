"""Per-app gateway keys, proven end to end: the real LiteLLM proxy (two replicas sharing one real
Postgres), our reconciler and our database gate, each run as the synthesized objects say.

One environment is synthesized from dev, with apps of its own (each declares its access; each
key value is generated here and encrypted with the real sops) and models pointed at the fake
upstream on 127.0.0.1. Then, in the order a cluster would run them:

1. the migration Job's ``salt-key-check`` init container records the salt key's fingerprint
   (the migration itself is the session template's: docs/testing-database.md);
2. each replica's ``schema-gate`` init container passes on the migrated database;
3. two pods of the LiteLLM Deployment start, locked down as it says, with the metrics port of
   the synthesized config. The environment declares one replica: the synth refuses more without
   Redis (rate limits would be counted per pod), and without Redis what the two share is the
   database alone, which is what this test proves (during a rolling update two pods run, too);
4. an app pod's ``gateway-key-gate`` init container is started and keeps waiting;
5. the ``litellm-keys-<digest>`` Job's container runs the reconciler with the Job's command,
   environment and mounted files (the declarations ConfigMap and one item of each app's
   Secret), and the app's gate lets its pod go on.

Everything is composed by tests/pod_runtime.py and run locked down by tests/locked_down.py. What
the test changes, and why: a Service's address (``PROXY_URL``, ``DATABASE_HOST``) becomes the
local port it maps to, and the database login is the test database's (tests/database_proxy.py).
Later scenarios run the same container with other mounted files, written as a new synth or a
rotated Secret would write them: ``keys.json`` from the construct's own ``declaration()``, key
files with new values.

Cost: one synth, two proxies booting at once (shared by every test here), and two polls that
wait for LiteLLM's own clocks: spend is written in batches (~10 s) and a rotated key's grace
(``ROTATION_GRACE``). Each test uses apps and keys of its own, so the order of tests changes
nothing.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from lib.constructs.gateway_keys import (
    DECLARATIONS_FILE,
    DECLARATIONS_MOUNT,
    KEYS_MOUNT,
    declaration,
)
from lib.environments import ENVIRONMENTS, Environment
from lib.gateway_keys.reconciler import hash_token
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.specs.gateway_access import KEY_VARIABLE, ClientVariables, GatewayAccess
from lib.specs.metrics import MetricsSpec
from lib.synthesis import SynthRequest, synthesize
from tests.database import DatabaseLogin, Postgres
from tests.database_fixtures import DATABASE_MODELS
from tests.database_proxy import DatabaseProxy, launch_database_proxy, running
from tests.helpers import FAKE_SECRETS, AgeKey, encrypt_document
from tests.pod_runtime import ConfigMount, ContainerProcess, compose, compose_container
from tests.proxy_harness import http
from tests.script_process import Finished, ScriptProcesses, finish, stop
from tests.test_litellm_e2e import UPSTREAM_MODEL, Upstream

MODEL, OTHER_MODEL = DATABASE_MODELS
# Short, so the test waits little for a rotation's old key to stop; long enough that the
# reconciler's last write and the test's next request both fall well within it.
ROTATION_GRACE = "20s"
# A budget one answer of the fake upstream exceeds (gpt-4o-mini's bundled prices).
TINY_BUDGET_USD = 1e-7
SPENDER_ALIAS = "team-a/spend-tracked"
# Generous bounds for a loaded machine: LiteLLM writes spend every ~10 s.
SPEND_DEADLINE_SECONDS = 120
GRACE_DEADLINE_SECONDS = 120
GATE_DEADLINE_SECONDS = 120


def _access(**fields: Any) -> GatewayAccess:
    return GatewayAccess(**{"models": (MODEL,), **fields})


# The apps of the environment, each for its scenario.
DECLARED: dict[str, GatewayAccess] = {
    # Every field declared: drift in any of them is restored.
    "writer": _access(
        max_budget_usd=50,
        budget_duration="30d",
        rpm_limit=1000,
        tpm_limit=1_000_000,
        metadata={"team": "docs"},
        variables=ClientVariables.OPENAI,
    ),
    "limited": _access(rpm_limit=2),
    "spender": _access(
        models=(MODEL, OTHER_MODEL),
        max_budget_usd=TINY_BUDGET_USD,
        budget_duration="30d",
        alias=SPENDER_ALIAS,
    ),
    "rotating": _access(rotation_grace=ROTATION_GRACE),
    "undoing": _access(),
}
# With the declared apps, one more managed key than a page of /key/list holds.
PAGED_APPS = 101 - len(DECLARED)


def new_value() -> str:
    return f"sk-{secrets.token_hex(24)}"


def keys_environment(upstream: Upstream) -> Environment:
    dev = ENVIRONMENTS["dev"]
    (chatbot,) = [app for app in dev.apps if app.gateway is not None]
    models = tuple(
        ModelSpec(
            name=name,
            model=f"openai/{UPSTREAM_MODEL}",
            api_base=f"http://127.0.0.1:{upstream.port}/v1",
            api_key_env="OPENAI_API_KEY",
        )
        for name in DATABASE_MODELS
    )
    return replace(
        dev,
        name="keys",
        proxy=ProxyConfigSpec(models=models),
        redis=None,
        metrics=MetricsSpec(service_monitor_labels={"release": "kube-prometheus-stack"}),
        apps=(
            *(app for app in dev.apps if app.gateway is None),
            *(replace(chatbot, name=name, gateway=access) for name, access in DECLARED.items()),
        ),
    )


@dataclass
class Gateway:
    """Everything the scenarios share: the objects, the processes, the Job's container."""

    objects: Sequence[Mapping[str, Any]]
    replicas: tuple[DatabaseProxy, DatabaseProxy]
    login: DatabaseLogin
    postgres: Postgres
    scripts: ScriptProcesses
    job: ContainerProcess
    values: dict[str, str]  # app -> its key value, as in the SOPS file
    manager: str
    declared_keys: list[dict[str, Any]]  # keys.json as synthesized
    first_run: Finished
    first_spend: tuple[int, Any]  # the spender app's first request, through replica a
    # app -> /v1/models with its key, right after the first run (before anything was spent)
    models_listed: dict[str, tuple[int, Any]]
    app_gate: Finished
    work: Path

    @property
    def a(self) -> DatabaseProxy:
        return self.replicas[0]

    @property
    def b(self) -> DatabaseProxy:
        return self.replicas[1]

    def reconcile(
        self,
        extra: Mapping[str, GatewayAccess] | None = None,
        values: Mapping[str, str] | None = None,
        *,
        without: Sequence[str] = (),
        dry_run: bool = False,
    ) -> Finished:
        """Run the Job's container again, its files as a synth of the declared apps plus
        ``extra`` minus ``without`` would write them. ``values``: apps' new key values, kept
        for later runs (their Secrets changed)."""
        keys = [
            *(entry for entry in self.declared_keys if entry["app"] not in without),
            *(declaration(app, access) for app, access in (extra or {}).items()),
        ]
        self.values.update(values or {})
        run_dir = self.work / f"files-{uuid.uuid4().hex[:8]}"
        mounts = [
            mount
            for mount in self.job.config_mounts
            if mount.path != DECLARATIONS_MOUNT and not mount.path.startswith(f"{KEYS_MOUNT}/")
        ]
        declarations_dir = run_dir / "declarations"
        declarations_dir.mkdir(parents=True)
        (declarations_dir / DECLARATIONS_FILE).write_text(
            json.dumps({"manager": self.manager, "keys": keys}, indent=2, sort_keys=True)
        )
        mounts.append(ConfigMount(path=DECLARATIONS_MOUNT, source=declarations_dir))
        for entry in keys:
            key_dir = run_dir / "keys" / entry["app"]
            key_dir.mkdir(parents=True)
            (key_dir / KEY_VARIABLE).write_text(self.values[entry["app"]])
            mounts.append(ConfigMount(path=f"{KEYS_MOUNT}/{entry['app']}", source=key_dir))
        job = replace(self.job, config_mounts=tuple(mounts))
        return self.scripts.run(
            job, {"PROXY_URL": self.a.base_url}, ["--dry-run"] if dry_run else []
        )


def writes(run: Finished) -> list[str]:
    """The reconciler's write lines, after checking it succeeded and counted them."""
    assert run.returncode == 0, run.stderr
    *lines, summary = run.lines
    match = re.fullmatch(r"reconciled (\d+) declared keys: (\d+) writes", summary)
    assert match, run.stdout
    assert int(match.group(2)) == len(lines), run.stdout
    return lines


@pytest.fixture(scope="module")
def gateway(
    postgres: Postgres,
    database_upstream: Upstream,
    age_key: AgeKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    work = tmp_path_factory.mktemp("gateway-keys")
    values = {app: new_value() for app in DECLARED}
    document = {**FAKE_SECRETS, **{app: {KEY_VARIABLE: value} for app, value in values.items()}}
    del document["chatbot"]
    secrets_file = encrypt_document(document, work / "secrets.yaml", age_key.recipient)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
        report = synthesize(
            SynthRequest(environment="keys", outdir=work / "dist", secrets_file=secrets_file),
            {"keys": keys_environment(database_upstream)},
        )
    objects: list[Any] = list(report.objects)
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    (migrate_job,) = [n for k, n in names if k == "Job" and n.startswith("litellm-migrate-")]
    (keys_job,) = [n for k, n in names if k == "Job" and n.startswith("litellm-keys-")]
    (config_map,) = [o for o in objects if o["metadata"]["name"] == "litellm-key-declarations"]
    declared = json.loads(config_map["data"][DECLARATIONS_FILE])

    login = postgres.new_database()
    database = database_env(login)
    scripts = ScriptProcesses(work / "scripts")
    # 1. The migration Job's first step, on the migrated database.
    salt = compose_container(
        objects, "Job", migrate_job, work / "salt", container_name="salt-key-check"
    )
    recorded = scripts.run(salt, database)
    assert (recorded.returncode, recorded.lines) == (0, ["salt key fingerprint recorded"]), (
        recorded.stderr
    )
    # 2. Each replica's init container, at once.
    schema_gate = compose_container(
        objects, "Deployment", "litellm", work / "gate", container_name="schema-gate"
    )
    with ThreadPoolExecutor(2) as pool:
        gates = list(pool.map(lambda _: scripts.run(schema_gate, database), range(2)))
    for gate in gates:
        assert gate.returncode == 0, gate.stderr
        assert gate.lines[-1].endswith("salt key matches: serving"), gate.stdout
    # 3. Both replicas on the one database.
    replicas = tuple(
        launch_database_proxy(
            compose(objects, "litellm", work / f"pod-{i}", init_containers_run_by_caller=True),
            login,
            work,
            name=f"replica-{i}",
        )
        for i in range(2)
    )
    # 4. The writer app's pod gate, before its key exists.
    app_gate_container = compose_container(
        objects, "Deployment", "writer", work / "app-gate", container_name="gateway-key-gate"
    )
    app_gate = scripts.start(app_gate_container, {"PROXY_URL": replicas[0].base_url})
    try:
        with running(replicas):
            assert app_gate.poll() is None, "the app's gate passed before its key existed"
            # 5. The reconcile Job.
            job = compose_container(objects, "Job", keys_job, work / "job")
            first_run = scripts.run(job, {"PROXY_URL": replicas[0].base_url})
            # Each app's value from its Secret, as the app sends it: what it is accepted for.
            models = {
                app: http("GET", replicas[0].base_url + "/v1/models", token=value)
                for app, value in values.items()
            }
            # The spender app's first request, as soon as its key exists: LiteLLM writes spend
            # in batches (~10 s), which then runs while the tests before the spend test do.
            first_spend = replicas[0].chat(values["spender"], MODEL)
            yield Gateway(
                objects=objects,
                replicas=(replicas[0], replicas[1]),
                login=login,
                postgres=postgres,
                scripts=scripts,
                job=job,
                values=values,
                manager=declared["manager"],
                declared_keys=declared["keys"],
                first_run=first_run,
                first_spend=first_spend,
                models_listed=models,
                app_gate=finish(app_gate, GATE_DEADLINE_SECONDS),
                work=work,
            )
    finally:
        stop(app_gate)


def database_env(login: DatabaseLogin) -> dict[str, str]:
    """The Service ``postgres`` resolved to the test's server, and its database's login."""
    return login.litellm_env()


def key_info(proxy: DatabaseProxy, value: str) -> dict[str, Any]:
    status, body = proxy.admin("GET", f"/key/info?key={hash_token(value)}")
    assert status == 200, body
    return body["info"]  # type: ignore[no-any-return]


def key_exists(gateway: Gateway, value: str) -> bool:
    """Whether LiteLLM's key table holds the key (a deleted key moves to another table, and
    /key/info still answers for it, with status "deleted")."""
    token = hash_token(value)  # hex digits only: nothing injected
    query = f"""SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE token = '{token}';\n"""  # noqa: S608
    return int(gateway.postgres.psql(gateway.login.name, query)) == 1


def poll(what: str, check: Any, deadline_seconds: float) -> Any:
    """``check()`` until it returns something truthy, or fail after the deadline."""
    end = time.monotonic() + deadline_seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline_seconds} s")
        time.sleep(1)


# ---------------------------------------------------------------------------------------------
# The reconciler creates the keys; a second run writes nothing.


def test_gateway_keys_job_creates_each_app_key_from_its_secret(gateway: Gateway) -> None:
    lines = writes(gateway.first_run)
    assert sorted(lines) == sorted(
        f"create key '{access.alias_for(app)}' for app '{app}'" for app, access in DECLARED.items()
    )
    for app, access in DECLARED.items():
        value = gateway.values[app]
        info = key_info(gateway.a, value)
        assert info["key_alias"] == access.alias_for(app)
        assert sorted(info["models"]) == sorted(access.models)
        assert info["metadata"] == {
            **access.metadata,
            "seance.dev/managed-by": "seance/keys",
            "seance.dev/app": app,
        }
        # The value from the Secret is accepted, and lists the app's models.
        status, body = gateway.models_listed[app]
        assert status == 200, body
        assert sorted(model["id"] for model in body["data"]) == sorted(access.models)
    # The app pod's gate waited for its key and then let the pod start.
    assert gateway.app_gate.returncode == 0, gateway.app_gate.stderr
    assert gateway.app_gate.lines == ["the gateway accepts this app's key"]


def last_update(gateway: Gateway) -> str:
    """The newest write time of any key row (a write the proxy's API makes moves it)."""
    return gateway.postgres.psql(
        gateway.login.name, 'SELECT max(updated_at) FROM "LiteLLM_VerificationToken";\n'
    ).strip()


def test_gateway_keys_second_run_makes_no_writes(gateway: Gateway) -> None:
    before = last_update(gateway)
    assert writes(gateway.reconcile()) == []
    assert writes(gateway.reconcile(dry_run=True)) == []
    assert last_update(gateway) == before


def test_gateway_keys_log_no_key_value(gateway: Gateway) -> None:
    output = gateway.first_run.stdout + gateway.first_run.stderr
    for value in [*gateway.values.values(), gateway.a.master_key]:
        assert value not in output
    guarded = [
        *gateway.values.values(),
        *FAKE_SECRETS["litellm"].values(),
        gateway.login.password,
    ]
    for replica in gateway.replicas:
        log = replica.log.read_text(errors="replace")
        assert [value for value in guarded if value in log] == []


# ---------------------------------------------------------------------------------------------
# What a key allows.


def test_gateway_keys_app_key_serves_its_models_only_and_no_admin_route(
    gateway: Gateway,
) -> None:
    value = gateway.values["writer"]
    assert gateway.a.chat(value, MODEL)[0] == 200
    status, body = gateway.a.chat(value, OTHER_MODEL)
    assert status in (401, 403), body
    assert "key_model_access_denied" in body or "not allowed" in body
    for method, path, payload in [
        ("POST", "/key/generate", {"key_alias": f"stolen-{uuid.uuid4().hex}"}),
        ("GET", "/key/list", None),
        ("POST", "/key/update", {"key": hash_token(value), "max_budget": 1e6}),
        ("POST", "/user/new", {}),
    ]:
        status, body = http(method, gateway.a.base_url + path, token=value, body=payload)
        assert status in (401, 403), f"{path}: {status} {body}"
    assert key_info(gateway.a, value)["max_budget"] == 50


def test_gateway_keys_rpm_limit_answers_429(gateway: Gateway) -> None:
    value = gateway.values["limited"]
    statuses = [gateway.a.chat(value, MODEL)[0] for _ in range(3)]
    assert statuses == [200, 200, 429]


# ---------------------------------------------------------------------------------------------
# Rotation first: while its grace runs out, LiteLLM writes the spender's first spend.


def test_gateway_keys_rotated_value_works_and_the_old_one_stops_after_the_grace(
    gateway: Gateway,
) -> None:
    old, new = gateway.values["rotating"], new_value()
    rotated = gateway.reconcile(values={"rotating": new})
    lines = writes(rotated)
    assert lines == [
        f"update key 'rotating' (token {hash_token(old)[:12]}...): duration, key_alias, metadata",
        "create key 'rotating' for app 'rotating'",
    ]
    # Both work during the grace: pods still holding the old value are not refused.
    assert gateway.a.chat(new, MODEL)[0] == 200
    assert gateway.a.chat(old, MODEL)[0] == 200
    retiring = key_info(gateway.a, old)
    assert retiring["key_alias"] == f"rotating/retiring-{hash_token(old)[:12]}"
    assert retiring["expires"] is not None
    assert key_info(gateway.a, new)["key_alias"] == "rotating"

    poll(
        "the old value refused",
        lambda: gateway.a.chat(old, MODEL)[0] in (400, 401),
        GRACE_DEADLINE_SECONDS,
    )
    (deleted,) = writes(gateway.reconcile())
    assert deleted == (
        f"delete key 'rotating/retiring-{hash_token(old)[:12]}' (token {hash_token(old)[:12]}...): "
        "its rotation grace is over"
    )
    assert not key_exists(gateway, old)
    assert gateway.a.chat(new, MODEL)[0] == 200
    assert writes(gateway.reconcile()) == []


# ---------------------------------------------------------------------------------------------
# Spend: in /key/info and the metrics, and a spent budget refused at both replicas.


def scrape(proxy: DatabaseProxy) -> str:
    assert proxy.metrics_port is not None
    url = f"http://127.0.0.1:{proxy.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()  # type: ignore[no-any-return]


def spend_metric(text: str, alias: str) -> float:
    found = [
        float(value)
        for labels, value in re.findall(
            r"^litellm_spend_metric_total\{([^}]*)\} ([0-9.e+-]+)$", text, flags=re.MULTILINE
        )
        if f'api_key_alias="{alias}"' in labels
    ]
    return sum(found)


def test_gateway_keys_spend_is_tracked_per_app_and_a_spent_budget_refused_at_both_replicas(
    gateway: Gateway,
) -> None:
    value = gateway.values["spender"]
    status, body = gateway.first_spend
    assert status == 200, body

    def spent() -> float:
        info = key_info(gateway.a, value)
        return float(info["spend"]) if info["spend"] > TINY_BUDGET_USD else 0.0

    spend = poll("spend in /key/info", spent, SPEND_DEADLINE_SECONDS)
    assert key_info(gateway.a, value)["key_alias"] == SPENDER_ALIAS
    assert spend_metric(scrape(gateway.a), SPENDER_ALIAS) == pytest.approx(spend)
    # Replica b never served this key: it reads it, and its spend, from the shared database.
    status, body = gateway.b.chat(value, MODEL)
    assert status == 422, body
    assert "Budget has been exceeded" in body
    status, body = gateway.a.chat(value, MODEL)
    assert status == 422, body
    # A pod of the app that starts now (a rollout, a drained node) is not held at its gate.
    gate = compose_container(
        gateway.objects,
        "Deployment",
        "spender",
        gateway.work / "spender-gate",
        container_name="gateway-key-gate",
    )
    started = gateway.scripts.run(gate, {"PROXY_URL": gateway.b.base_url}, timeout=60)
    assert (started.returncode, started.lines) == (0, ["the gateway accepts this app's key"])


# ---------------------------------------------------------------------------------------------
# Drift, rotation, removal, keys made by hand, paging.


def test_gateway_keys_drift_made_through_the_api_is_restored(gateway: Gateway) -> None:
    value = gateway.values["writer"]
    token = hash_token(value)
    declared = key_info(gateway.a, value)
    metadata = {**declared["metadata"], "team": "someone-else", "added": "by hand"}
    status, body = gateway.a.admin(
        "POST",
        "/key/update",
        {
            "key": token,
            "models": [MODEL, OTHER_MODEL],
            "max_budget": 999,
            "budget_duration": "1d",
            "rpm_limit": 1,
            "tpm_limit": 1,
            "metadata": metadata,
        },
    )
    assert status == 200, body
    (line,) = writes(gateway.reconcile())
    assert line == (
        f"update key 'writer' (token {token[:12]}...): budget_duration, max_budget, metadata, "
        "models, rpm_limit, tpm_limit"
    )
    restored = key_info(gateway.a, value)
    fields = ("models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata")
    assert {f: restored[f] for f in fields} == {f: declared[f] for f in fields}
    assert writes(gateway.reconcile()) == []


def test_gateway_keys_rotation_undone_within_the_grace_clears_the_expiry(gateway: Gateway) -> None:
    """Back to the old value (grace 1h): the old key is the app's again and never expires."""
    old, new = gateway.values["undoing"], new_value()
    assert len(writes(gateway.reconcile(values={"undoing": new}))) == 2
    assert key_info(gateway.a, old)["expires"] is not None
    undone = writes(gateway.reconcile(values={"undoing": old}))
    assert undone[0] == (
        f"update key 'undoing' (token {hash_token(new)[:12]}...): duration, key_alias, metadata"
    )
    assert undone[1].startswith(f"update key 'undoing' (token {hash_token(old)[:12]}...): ")
    info = key_info(gateway.a, old)
    assert (info["key_alias"], info["expires"]) == ("undoing", None)
    assert "seance.dev/retiring" not in info["metadata"]
    assert gateway.a.chat(old, MODEL)[0] == 200
    assert writes(gateway.reconcile()) == []


def test_gateway_keys_removed_app_is_deleted_and_a_hand_made_key_left_alone(
    gateway: Gateway,
) -> None:
    hand_made = new_value()
    status, body = gateway.a.admin(
        "POST",
        "/key/generate",
        {"key": hand_made, "key_alias": f"by-hand-{uuid.uuid4().hex[:8]}", "models": [MODEL]},
    )
    assert status == 200, body
    before = key_info(gateway.a, hand_made)
    doomed = new_value()
    extra = {"doomed": _access()}
    assert writes(gateway.reconcile(extra, {"doomed": doomed})) == [
        "create key 'doomed' for app 'doomed'"
    ]
    assert gateway.a.chat(doomed, MODEL)[0] == 200
    (line,) = writes(gateway.reconcile())
    assert line == (f"delete key 'doomed' (token {hash_token(doomed)[:12]}...): no app declares it")
    assert not key_exists(gateway, doomed)
    assert gateway.a.chat(doomed, MODEL)[0] == 401
    assert key_info(gateway.a, hand_made) == before
    assert gateway.a.chat(hand_made, MODEL)[0] == 200


def test_gateway_keys_more_than_a_page_of_managed_keys_reconcile(gateway: Gateway) -> None:
    many = {f"paged-{i:03d}": _access(rpm_limit=100 + i) for i in range(PAGED_APPS)}
    values = {app: new_value() for app in many}
    created = writes(gateway.reconcile(many, values))
    assert len(created) == PAGED_APPS
    status, body = gateway.a.admin("GET", "/key/list?size=100&page=1")
    assert status == 200, body
    assert body["total_count"] > 100
    # Every key read, page after page: nothing re-created, nothing drifted.
    assert writes(gateway.reconcile(many, values)) == []
    deleted = writes(gateway.reconcile())
    assert len(deleted) == PAGED_APPS
    assert all(line.endswith("no app declares it") for line in deleted)
