"""The database test infrastructure proven through the real proxy: virtual keys live in a real
Postgres, reached through the stand-in query engine (docs/testing-database.md), and LiteLLM
enforces what they say. One proxy for the whole module (``database_proxy``, session-scoped);
each test makes keys with aliases of its own. Then the database gate's containers (the
migration Job's salt check, the LiteLLM pod's schema gate) as synthesized, each on a database
of its own.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.database import Postgres, applied_migrations
from tests.database_fixtures import DATABASE_MODELS
from tests.database_proxy import DatabaseProxy
from tests.helpers import FAKE_SECRETS
from tests.pod_runtime import ContainerProcess, compose_container
from tests.proxy_harness import http
from tests.script_process import ScriptProcesses, stop
from tests.test_litellm_e2e import WRITE_REFUSED, Upstream

MODEL, OTHER_MODEL = DATABASE_MODELS
# LiteLLM writes spend in batches every ~10 s; a generous bound for a loaded machine.
SPEND_DEADLINE_SECONDS = 90
# The schema gate checks every 2 s; a generous bound for a loaded machine.
GATE_DEADLINE_SECONDS = 120
# LiteLLM 1.106.12 counts a key's requests in a window that opens at its first request, in
# whole seconds, and lasts LITELLM_RATE_LIMIT_WINDOW_SIZE (60 s, unset here): not the clock's
# minute, so no minute boundary splits it (parallel_request_limiter_v3.py).
KEY_RATE_WINDOW_SECONDS = 60


def new_key(proxy: DatabaseProxy, **fields: Any) -> tuple[str, str]:
    """A key made through /key/generate with a custom value and a unique alias: (raw, token)."""
    raw = f"sk-test-{uuid.uuid4().hex}"
    status, body = proxy.admin(
        "POST", "/key/generate", {"key": raw, "key_alias": f"test-{uuid.uuid4().hex}", **fields}
    )
    assert status == 200, body
    assert body["key"] == raw
    return raw, body["token_id"]


def key_info(proxy: DatabaseProxy, token: str) -> tuple[int, Any]:
    return proxy.admin("GET", f"/key/info?key={token}")


def wait_for_spend(proxy: DatabaseProxy, token: str, above: float) -> float:
    """Poll /key/info until the key's spend exceeds ``above`` (written in batches)."""
    deadline = time.monotonic() + SPEND_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        status, body = key_info(proxy, token)
        assert status == 200, body
        if body["info"]["spend"] > above:
            return float(body["info"]["spend"])
        time.sleep(1)
    raise AssertionError(f"no spend above {above} within {SPEND_DEADLINE_SECONDS} s")


def test_database_migrations_are_recorded_as_prisma_records_them(
    database_proxy: DatabaseProxy, postgres: Postgres
) -> None:
    assert postgres.migrations is not None
    recorded = applied_migrations(postgres, database_proxy.login)
    assert list(recorded) == list(postgres.migrations.names)
    assert len(recorded) > 200
    assert all(len(checksum) == 64 for checksum in recorded.values())


def test_database_proxy_reports_its_database_connected(database_proxy: DatabaseProxy) -> None:
    status, body = http("GET", database_proxy.base_url + database_proxy.container.readiness_path)
    assert status == 200, body
    assert body["db"] == "connected"


def stored_tokens(postgres: Postgres, proxy: DatabaseProxy, token: str) -> int:
    """How many rows of the proxy's key table hold ``token`` (a hash: hex digits only)."""
    assert token.isalnum()
    query = f"""SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE token = '{token}';"""  # noqa: S608
    return int(postgres.psql(proxy.login.name, query))


def test_database_key_lifecycle_generate_info_update_delete(
    database_proxy: DatabaseProxy, postgres: Postgres
) -> None:
    raw, token = new_key(database_proxy, models=[MODEL], metadata={"app": "lifecycle"})
    assert stored_tokens(postgres, database_proxy, token) == 1
    status, body = key_info(database_proxy, token)
    assert status == 200, body
    assert body["info"]["models"] == [MODEL]
    assert body["info"]["metadata"] == {"app": "lifecycle"}

    status, body = database_proxy.admin(
        "POST", "/key/update", {"key": token, "max_budget": 5.0, "metadata": {"app": "changed"}}
    )
    assert status == 200, body
    info = key_info(database_proxy, token)[1]["info"]
    assert (info["max_budget"], info["metadata"]) == (5.0, {"app": "changed"})

    assert database_proxy.chat(raw, MODEL)[0] == 200
    status, body = database_proxy.admin("POST", "/key/delete", {"keys": [token]})
    assert status == 200, body
    assert database_proxy.chat(raw, MODEL)[0] == 401
    assert stored_tokens(postgres, database_proxy, token) == 0


def test_database_key_list_pages_through_every_key(database_proxy: DatabaseProxy) -> None:
    mine = {new_key(database_proxy)[1] for _ in range(3)}
    status, body = database_proxy.admin("GET", "/key/list?size=100&page=1")
    assert status == 200, body
    assert body["total_count"] >= 3
    assert mine <= set(body["keys"])
    listed: list[str] = []
    for page in range(1, body["total_count"] + 1):
        status, one = database_proxy.admin("GET", f"/key/list?size=1&page={page}")
        assert status == 200, one
        listed += one["keys"]
    assert set(listed) == set(body["keys"])
    assert database_proxy.admin("GET", "/key/list?size=101")[0] == 422


def test_database_key_serves_only_its_models(
    database_proxy: DatabaseProxy, database_upstream: Upstream
) -> None:
    raw, _ = new_key(database_proxy, models=[MODEL])
    status, body = database_proxy.chat(raw, MODEL)
    assert status == 200, body
    assert (
        database_upstream.requests[-1][2] == f"Bearer {FAKE_SECRETS['litellm']['OPENAI_API_KEY']}"
    )
    status, body = database_proxy.chat(raw, OTHER_MODEL)
    assert status == 403, body
    assert "key_model_access_denied" in body


def test_database_rpm_limit_refuses_the_third_request(database_proxy: DatabaseProxy) -> None:
    """rpm 2: the third request in the key's window is refused. Three requests that a very
    loaded machine stretched past the window (less a second: it counts whole seconds) prove
    nothing and are repeated with a new key, whose window opens anew."""
    for _attempt in range(3):
        raw, _ = new_key(database_proxy, rpm_limit=2)
        started = time.monotonic()
        statuses = [database_proxy.chat(raw, MODEL)[0] for _ in range(3)]
        if time.monotonic() - started < KEY_RATE_WINDOW_SECONDS - 1:
            break
    else:
        raise AssertionError("three times, three requests took longer than the rate window")
    assert statuses == [200, 200, 429]


def test_database_spend_is_recorded_and_an_exhausted_budget_refused(
    database_proxy: DatabaseProxy,
) -> None:
    # One answer of the fake upstream costs more than this at gpt-4o-mini's bundled prices.
    budget = 1e-7
    raw, token = new_key(database_proxy, max_budget=budget)
    status, body = database_proxy.chat(raw, MODEL)
    assert status == 200, body
    spend = wait_for_spend(database_proxy, token, above=budget)
    assert spend > budget
    status, body = database_proxy.chat(raw, MODEL)
    assert status == 422, body
    assert "Budget has been exceeded" in body


def test_database_proxy_log_holds_no_secret_and_no_refused_write(
    database_proxy: DatabaseProxy,
) -> None:
    log = database_proxy.log.read_text(errors="replace")
    secrets = [
        *(value for group in FAKE_SECRETS.values() for value in group.values()),
        database_proxy.login.password,
        database_proxy.env["LITELLM_SALT_KEY"],
    ]
    assert [secret for secret in secrets if secret in log] == []
    assert [line for line in log.splitlines() if any(s in line for s in WRITE_REFUSED)] == []


# ---------------------------------------------------------------------------------------------
# The database gate (lib/gateway_keys/database_gate.py), its containers composed from the
# synthesized objects and run locked down (tests/script_process.py), each on a database of its
# own: LiteLLM pods wait for their release's schema, and the salt key is checked.


class Watched:
    """A running process whose stdout lines are collected as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout
        self._reader = threading.Thread(
            target=lambda: self.lines.extend(line.rstrip("\n") for line in stdout), daemon=True
        )
        self._reader.start()

    def finish(self, timeout: float) -> int:
        returncode = self.process.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        return returncode


def migration_job(objects: Sequence[Mapping[str, Any]]) -> str:
    (name,) = [
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "Job" and o["metadata"]["name"].startswith("litellm-migrate-")
    ]
    return str(name)


def gate_containers(
    objects: Sequence[Mapping[str, Any]], root: Path
) -> tuple[ContainerProcess, ContainerProcess]:
    """The migration Job's salt check, and the LiteLLM pod's schema gate."""
    salt = compose_container(
        objects, "Job", migration_job(objects), root / "salt", container_name="salt-key-check"
    )
    gate = compose_container(
        objects, "Deployment", "litellm", root / "gate", container_name="schema-gate"
    )
    return salt, gate


def test_database_gate_holds_a_pod_until_its_release_migration_is_applied(
    postgres: Postgres, database_objects: list[Any], tmp_path: Path
) -> None:
    assert postgres.migrations is not None
    newest = postgres.migrations.names[-1]
    login = postgres.new_database()
    # A database one migration behind the release: `prisma migrate deploy` has not run it yet.
    checksum = postgres.psql(
        login.name,
        f"""DELETE FROM "_prisma_migrations" WHERE migration_name = '{newest}' """  # noqa: S608
        "RETURNING checksum;\n",
    ).strip()
    env = login.litellm_env()  # the Service "postgres" resolved, and this database's login
    scripts = ScriptProcesses(tmp_path / "runs")
    salt, schema_gate = gate_containers(database_objects, tmp_path)
    assert scripts.run(salt, env).returncode == 0
    gate = Watched(scripts.start(schema_gate, env))
    try:
        deadline = time.monotonic() + GATE_DEADLINE_SECONDS
        waiting = f"waiting: migration {newest} not applied yet"
        while waiting not in gate.lines:
            assert gate.process.poll() is None, gate.lines
            assert time.monotonic() < deadline, gate.lines
            time.sleep(0.5)
        assert gate.process.poll() is None, gate.lines
        # What `prisma migrate deploy` writes once it has applied the migration.
        postgres.psql(
            login.name,
            'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, '  # noqa: S608
            f"started_at, applied_steps_count) VALUES ('{uuid.uuid4()}', '{checksum}', now(), "
            f"'{newest}', now(), 1);\n",
        )
        assert gate.finish(GATE_DEADLINE_SECONDS) == 0, gate.lines
    finally:
        stop(gate.process)
    assert gate.lines[-1] == f"schema has {newest}; salt key matches: serving"


ROTATION_REFUSED = (
    "error: LITELLM_SALT_KEY differs from the one this database was set up with, which would "
    "make every credential LiteLLM stored encrypted unreadable: restore the previous value, or "
    "rotate on purpose with allow_salt_key_rotation=True on the environment "
    "(docs/database.md, 'Rotate the salt key')"
)


def test_database_gate_salt_check_refuses_a_changed_salt_key_unless_rotation_is_allowed(
    postgres: Postgres, database_objects: list[Any], tmp_path: Path
) -> None:
    login = postgres.new_database()
    env = login.litellm_env()
    scripts = ScriptProcesses(tmp_path / "runs")
    salt, schema_gate = gate_containers(database_objects, tmp_path)
    synthesized_salt_key = salt.env["LITELLM_SALT_KEY"]
    assert synthesized_salt_key == FAKE_SECRETS["litellm"]["LITELLM_SALT_KEY"]
    assert salt.env["ALLOW_SALT_KEY_ROTATION"] == "false"
    runs = [scripts.run(salt, env)]
    assert (runs[-1].returncode, runs[-1].lines) == (0, ["salt key fingerprint recorded"])
    runs.append(scripts.run(salt, env))
    assert (runs[-1].returncode, runs[-1].lines) == (0, ["salt key unchanged"])

    # The Secret's salt key changed: the next release's Job stops, and so would new pods.
    changed = {**env, "LITELLM_SALT_KEY": f"salt-rotated-{secrets.token_hex(24)}"}
    for container in (salt, schema_gate):
        runs.append(scripts.run(container, changed))
        assert (runs[-1].returncode, runs[-1].stdout) == (3, ""), runs[-1].stderr
        assert runs[-1].stderr.splitlines() == [ROTATION_REFUSED]

    # allow_salt_key_rotation=True on the environment gives the Job this variable.
    runs.append(scripts.run(salt, {**changed, "ALLOW_SALT_KEY_ROTATION": "true"}))
    assert runs[-1].returncode == 0, runs[-1].stderr
    assert runs[-1].lines == [
        "salt key rotation accepted (allow_salt_key_rotation): new fingerprint recorded"
    ]
    runs.append(scripts.run(schema_gate, changed))
    assert runs[-1].returncode == 0, runs[-1].stderr
    for run in runs:
        for value in (synthesized_salt_key, changed["LITELLM_SALT_KEY"], login.password):
            assert value not in run.stdout + run.stderr
