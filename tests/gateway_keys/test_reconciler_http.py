"""The reconciler's HTTP side and its script entry point, against a small key store that speaks
LiteLLM's /key/* shapes over real HTTP on 127.0.0.1 (the real proxy on a real Postgres is the
database e2e tests' job). It records every request so the tests can check paths and bodies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lib.gateway_keys.reconciler import (
    MANAGED_BY,
    LiteLLMKeys,
    ReconcileError,
    hash_token,
    main,
)

MASTER = "sk-master-for-the-http-tests-000000"
SCRIPT = Path(__file__).resolve().parents[2] / "lib" / "gateway_keys" / "reconciler.py"


@dataclass
class KeyStore:
    """LiteLLM's key table, reduced to what the reconciler reads and writes."""

    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    fail_generate_with: str | None = None

    def writes(self) -> list[tuple[str, str, dict[str, Any] | None]]:
        return [r for r in self.requests if r[0] == "POST"]


def _handler(store: KeyStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            store.requests.append(("GET", self.path, None))
            url = urlsplit(self.path)
            if url.path == "/health/readiness":
                return self._answer(200, {"status": "healthy", "db": "connected"})
            if self.headers.get("Authorization") != f"Bearer {MASTER}":
                return self._answer(401, {"error": "unauthorized"})
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            page, size = int(query["page"]), min(int(query["size"]), 100)
            ordered = sorted(store.keys.values(), key=lambda k: k["token"])
            chunk = ordered[(page - 1) * size : page * size]
            total_pages = max(1, -(-len(ordered) // size))
            return self._answer(
                200,
                {
                    "keys": chunk if query.get("return_full_object") == "true" else [],
                    "total_count": len(ordered),
                    "current_page": page,
                    "total_pages": total_pages,
                },
            )

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            store.requests.append(("POST", self.path, body))
            if self.path == "/key/generate":
                if store.fail_generate_with is not None:
                    return self._answer(400, {"error": store.fail_generate_with})
                token = hash_token(body["key"])
                store.keys[token] = {"token": token, "expires": None, **_stored(body)}
                return self._answer(200, {"key": body["key"], "token_id": token})
            if self.path == "/key/update":
                stored = store.keys[body["key"]]
                stored.update(_stored(body))
                return self._answer(200, stored)
            if self.path == "/key/delete":
                for token in body["keys"]:
                    del store.keys[token]
                return self._answer(200, {"deleted_keys": body["keys"]})
            return self._answer(404, {})

    return Handler


def _stored(body: dict[str, Any]) -> dict[str, Any]:
    """The columns a request sets: never the raw key; ``duration`` becomes ``expires`` in
    LiteLLM, which these tests do not need."""
    return {k: v for k, v in body.items() if k not in ("key", "duration")}


@pytest.fixture
def store() -> Iterator[tuple[KeyStore, str]]:
    keys = KeyStore()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(keys))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield keys, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _declare(tmp_path: Path, apps: dict[str, str]) -> dict[str, str]:
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for app, value in apps.items():
        (keys_dir / app).mkdir(parents=True, exist_ok=True)
        # A trailing newline, as an editor or `kubectl create secret --from-file` leaves it.
        (keys_dir / app / "LITELLM_API_KEY").write_text(value + "\n")
        entries.append(
            {
                "app": app,
                "alias": app,
                "models": ["gpt-4o-mini"],
                "max_budget": 20.0,
                "budget_duration": "30d",
                "rpm_limit": 60,
                "tpm_limit": 100000,
                "metadata": {},
                "rotation_grace": "1h",
                "key_file": f"{app}/LITELLM_API_KEY",
            }
        )
    declarations = tmp_path / "keys.json"
    declarations.write_text(json.dumps({"manager": "seance/test", "keys": entries}))
    return {"DECLARATIONS_FILE": str(declarations), "KEYS_DIR": str(keys_dir)}


def test_http_list_all_pages_through_every_key_with_full_objects(
    store: tuple[KeyStore, str],
) -> None:
    keys, url = store
    for n in range(250):
        token = hash_token(f"sk-listed-{n}")
        keys.keys[token] = {"token": token, "key_alias": f"k{n}", "metadata": {}}
    listed = LiteLLMKeys(url, MASTER, manager="seance/test").list_all()
    assert len(listed) == 250
    pages = [parse_qs(urlsplit(path).query) for _, path, _ in keys.requests]
    assert [(p["page"], p["size"], p["return_full_object"]) for p in pages] == [
        (["1"], ["100"], ["true"]),
        (["2"], ["100"], ["true"]),
        (["3"], ["100"], ["true"]),
    ]


def test_http_main_creates_then_a_second_run_writes_nothing(
    store: tuple[KeyStore, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys, url = store
    values = {
        "chatbot": "sk-http-chatbot-0123456789abcdef",
        "search": "sk-http-search-fedcba9876543210",
    }
    env = {**_declare(tmp_path, values), "PROXY_URL": url, "LITELLM_MASTER_KEY": MASTER}
    hand_made = hash_token("sk-hand-made-by-an-admin-000000")
    keys.keys[hand_made] = {"token": hand_made, "key_alias": "admin", "metadata": {}}
    assert main([], env) == 0
    assert {k["key_alias"] for k in keys.keys.values()} == {"chatbot", "search", "admin"}
    assert keys.keys[hash_token(values["chatbot"])]["metadata"][MANAGED_BY] == "seance/test"
    first_writes = len(keys.writes())
    assert first_writes == 2
    assert main([], env) == 0
    assert len(keys.writes()) == first_writes  # idempotent
    out = capsys.readouterr()
    for value in (*values.values(), MASTER):
        assert value not in out.out + out.err
        for _, path, _ in keys.requests:
            assert value not in path


def test_http_main_restores_drift_and_deletes_undeclared(
    store: tuple[KeyStore, str], tmp_path: Path
) -> None:
    keys, url = store
    value = "sk-http-chatbot-0123456789abcdef"
    env = {**_declare(tmp_path, {"chatbot": value}), "PROXY_URL": url, "LITELLM_MASTER_KEY": MASTER}
    assert main([], env) == 0
    keys.keys[hash_token(value)]["rpm_limit"] = 100000
    assert main([], env) == 0
    assert keys.writes()[-1] == ("POST", "/key/update", {"key": hash_token(value), "rpm_limit": 60})
    empty = {**env, **_declare(tmp_path / "none", {})}
    assert main([], empty) == 0
    assert keys.keys == {}


def test_http_errors_are_one_line_without_any_key_value(
    store: tuple[KeyStore, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys, url = store
    value = "sk-http-chatbot-0123456789abcdef"
    # A proxy that echoes the request in its error must not get a value into our output.
    keys.fail_generate_with = f"key {value} rejected (master {MASTER})"
    env = {**_declare(tmp_path, {"chatbot": value}), "PROXY_URL": url, "LITELLM_MASTER_KEY": MASTER}
    assert main([], env) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: POST /key/generate answered 400: ")
    assert err.count("\n") == 1
    assert value not in err
    assert MASTER not in err
    assert "<redacted>" in err


def test_http_main_needs_its_variables() -> None:
    assert main([], {}) == 1


def test_http_wrong_master_key_is_refused_clearly(store: tuple[KeyStore, str]) -> None:
    _, url = store
    with pytest.raises(ReconcileError, match=r"^GET /key/list answered 401"):
        LiteLLMKeys(url, "sk-wrong-master-key-000000000000", manager="m").list_all()


def test_http_script_runs_standalone_with_the_standard_library_only(
    store: tuple[KeyStore, str], tmp_path: Path
) -> None:
    """As in the cluster: the file alone, run by a Python that has nothing of this project."""
    keys, url = store
    value = "sk-http-chatbot-0123456789abcdef"
    shipped = tmp_path / "reconciler" / "reconcile.py"
    shipped.parent.mkdir()
    shipped.write_text(SCRIPT.read_text())
    env = {**_declare(tmp_path, {"chatbot": value}), "PROXY_URL": url, "LITELLM_MASTER_KEY": MASTER}
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(shipped)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "create key 'chatbot' for app 'chatbot'",
        "reconciled 1 declared keys: 1 writes",
    ]
    assert set(keys.keys) == {hash_token(value)}
