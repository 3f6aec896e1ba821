"""The real LiteLLM proxy on a real Postgres, started from a composed container and locked down
as the e2e tests run it (tests/locked_down.py: the pod's user, read-only root, only its
emptyDirs writable).

What the test adds to the container's environment, and why (each is what the image or the
cluster provides there):

- the database's address as LiteLLM's DATABASE_* parts: the Service name resolved to 127.0.0.1
  and its port mapped, as REDIS_HOST is in tests/test_scaling_e2e.py;
- ``PRISMA_QUERY_ENGINE_BINARY``: the stand-in for Prisma's native query engine, which the
  image ships and this machine cannot download (tests/prisma_engine/, docs/testing-database.md);
- ``PRISMA_SCHEMA_ENGINE_BINARY`` and ``PRISMA_BINARY_CACHE_DIR``: where the image keeps the
  Prisma CLI, here the copy pinned in package-lock.json. With ``DISABLE_SCHEMA_UPDATE`` the proxy
  still runs ``prisma migrate diff`` once as a check; it fails here (no schema engine), which the
  proxy logs and ignores. ``CHECKPOINT_DISABLE``: the CLI's telemetry would leave 127.0.0.1.

Boot takes ~15-35 s on this machine; readiness is polled with a generous deadline, never slept.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.database import DatabaseLogin
from tests.helpers import PROJECT_ROOT
from tests.locked_down import command
from tests.pod_runtime import ContainerProcess
from tests.proxy_harness import OFFLINE, PROXY_BIN, _stop, free_port, http

PRISMA_ENGINE_DIR = PROJECT_ROOT / "tests" / "prisma_engine"
QUERY_ENGINE = PRISMA_ENGINE_DIR / "query-engine"
SCHEMA_ENGINE = PRISMA_ENGINE_DIR / "schema-engine"
# The generated Prisma client in the proxy's venv, written by `make test` (prisma generate).
GENERATED_CLIENT_MARKER = ".prisma-generated"
READY_TIMEOUT_SECONDS = 240


def database_test_env(login: DatabaseLogin) -> dict[str, str]:
    """The variables the test adds so the proxy reaches ``login``'s database here."""
    return {
        **login.litellm_env(),
        "PRISMA_QUERY_ENGINE_BINARY": str(QUERY_ENGINE),
        "PRISMA_SCHEMA_ENGINE_BINARY": str(SCHEMA_ENGINE),
        "PRISMA_BINARY_CACHE_DIR": str(PROJECT_ROOT),
        "CHECKPOINT_DISABLE": "1",
    }


@dataclass
class DatabaseProxy:
    """One proxy process: where it answers, what it was composed from, its log and database."""

    base_url: str
    pid: int
    container: ContainerProcess
    log: Path
    login: DatabaseLogin
    env: Mapping[str, str] = field(repr=False)  # secret values: never in a failure message
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def master_key(self) -> str:
        return self.env["LITELLM_MASTER_KEY"]

    def admin(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """An admin API call with the master key (``path`` holds no raw key: use hashed tokens)."""
        return http(method, self.base_url + path, token=self.master_key, body=body)

    def chat(self, key: str, model: str, text: str = "ping") -> tuple[int, Any]:
        """A chat completion as an app would send it, with its own key."""
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        return http("POST", self.base_url + "/v1/chat/completions", token=key, body=body)

    def wait_until_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """The Deployment's readiness path answers 200 and reports the database connected."""
        url = self.base_url + self.container.readiness_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"LiteLLM exited with {self.process.returncode}:\n{self._tail()}")
            try:
                status, body = http("GET", url)
            except OSError:
                status, body = 0, None
            if status == 200 and isinstance(body, dict) and body.get("db") == "connected":
                return
            time.sleep(0.5)
        pytest.fail(f"LiteLLM was not ready with its database within {timeout} s:\n{self._tail()}")

    def stop(self) -> None:
        _stop(self.process)

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def launch_database_proxy(
    container: ContainerProcess,
    login: DatabaseLogin,
    work: Path,
    *,
    name: str = "proxy",
    extra_env: Mapping[str, str] | None = None,
) -> DatabaseProxy:
    """Start (not wait for) the proxy of ``container`` locked down, on a free local port, with
    ``login``'s database. ``extra_env`` overrides the container's variables last (a test's own
    adaptation, said where it is made)."""
    if not PROXY_BIN.exists():
        pytest.fail(f"the LiteLLM proxy is not installed at {PROXY_BIN}: run `make test`")
    if not (PROXY_BIN.parents[1] / GENERATED_CLIENT_MARKER).exists():
        pytest.fail("the Prisma client is not generated in the proxy's venv: run `make test`")
    port = free_port()
    args = list(container.args)
    args[args.index("--port") + 1] = str(port)
    # Only what a container would have; HOME is the litellm-non_root image's.
    env = {
        "PATH": f"{PROXY_BIN.parent}:/usr/bin:/bin",
        "HOME": "/app",
        **OFFLINE,
        **container.env,
        **database_test_env(login),
        **(extra_env or {}),
    }
    scratch = work / f"{name}-scratch"
    scratch.mkdir()
    log = work / f"{name}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command(
                container,
                [str(PROXY_BIN), *args, "--host", "127.0.0.1"],
                scratch,
                keep=[PROJECT_ROOT],
            ),
            cwd="/",
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return DatabaseProxy(
        f"http://127.0.0.1:{port}", process.pid, container, log, login, env, process
    )


@contextmanager
def running(proxies: Sequence[DatabaseProxy]) -> Iterator[Sequence[DatabaseProxy]]:
    """Wait for every launched proxy at once (they boot in parallel); stop them all at the end,
    whatever happens."""
    try:
        with ThreadPoolExecutor(max(1, len(proxies))) as pool:
            for done in [pool.submit(proxy.wait_until_ready) for proxy in proxies]:
                done.result()
        yield proxies
    finally:
        for proxy in proxies:
            proxy.stop()
