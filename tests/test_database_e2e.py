"""The database test infrastructure proven through the real proxy: virtual keys live in a real
Postgres, reached through the stand-in query engine (docs/testing-database.md), and LiteLLM
enforces what they say. One proxy for the whole module (``database_proxy``, session-scoped);
each test makes keys with aliases of its own.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.database import Postgres, applied_migrations
from tests.database_fixtures import DATABASE_MODELS
from tests.database_proxy import DatabaseProxy
from tests.helpers import FAKE_SECRETS
from tests.proxy_harness import http
from tests.test_litellm_e2e import WRITE_REFUSED, Upstream

MODEL, OTHER_MODEL = DATABASE_MODELS
# LiteLLM writes spend in batches every ~10 s; a generous bound for a loaded machine.
SPEND_DEADLINE_SECONDS = 90
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
