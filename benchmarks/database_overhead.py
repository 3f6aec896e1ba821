"""What the database costs a request: LiteLLM's own overhead header, with and without it.

    .venv/bin/python -m benchmarks.database_overhead [--requests 200]    (also in `make bench`)

Two proxies of the synthesized dev environment run at once, each composed from the synthesized
objects and locked down as the end-to-end tests run them (tests/pod_runtime.py,
tests/locked_down.py), both against one fake OpenAI-compatible upstream on 127.0.0.1 that
answers at once:

- **without a database**: dev with ``database=None`` (so no app with a gateway key, and no admin
  UI, which needs one); requests carry the master key;
- **with the database and spend tracking**: dev as it is, on a real Postgres (Debian's, started
  here, LiteLLM's migrations applied: tests/database.py) through the stand-in query engine
  (docs/testing-database.md). The reconcile Job's container creates the chatbot's key, and
  requests carry that key, so each one is authenticated against the database, checked against
  the key's budget and limits, and its spend is written. The same proxy with the master key
  is reported too.

Changed from dev, and why: the models point at the fake upstream; no Redis (the response cache
would answer repeated requests without the upstream, and one Valkey more changes nothing the
database does), so no cache; the chatbot's ``rpm_limit`` is raised so the benchmark's volume is
not refused (the limiter still runs).

For each request LiteLLM's response header ``x-litellm-overhead-duration-ms`` says how long the
proxy itself spent on it, excluding the upstream's answer. Requests are sequential and take
turns across the configurations, so load from elsewhere falls on all of them alike; a warm-up
round is not counted. Medians and 95th percentiles are reported, nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lib.environments import ENVIRONMENTS, Environment
from lib.proxy_config.spec import ProxyConfigSpec
from lib.synthesis import SynthRequest, synthesize
from tests.database import migrate, start_postgres, stop_postgres
from tests.database_proxy import launch_database_proxy, running
from tests.locked_down import command
from tests.pod_runtime import ContainerProcess, compose, compose_container
from tests.proxy_harness import OFFLINE, PROXY_BIN, _stop, _wait_until_live, free_port
from tests.script_process import ScriptProcesses
from tests.test_litellm_e2e import _FakeOpenAI

HEADER = "x-litellm-overhead-duration-ms"
WARM_UP = 20
CHAT_APP = "chatbot"


@dataclasses.dataclass(frozen=True)
class Target:
    label: str
    url: str
    key: str


def environment(upstream_port: int, *, database: bool) -> Environment:
    dev = ENVIRONMENTS["dev"]
    models = tuple(
        dataclasses.replace(
            model, api_base=f"http://127.0.0.1:{upstream_port}/v1", api_key_env="OPENAI_API_KEY"
        )
        for model in dev.proxy.models
    )
    apps = tuple(
        dataclasses.replace(app, gateway=dataclasses.replace(app.gateway, rpm_limit=1_000_000))
        if app.gateway is not None
        else app
        for app in dev.apps
        if database or app.gateway is None
    )
    return dataclasses.replace(
        dev,
        proxy=ProxyConfigSpec(models=models),
        redis=None,
        apps=apps,
        database=dev.database if database else None,
        admin_ui=dev.admin_ui and database,
    )


def synth(upstream_port: int, outdir: Path, *, database: bool) -> list[Any]:
    """The dev objects, from the committed example secrets (as `make synth` decrypts them)."""
    report = synthesize(
        SynthRequest(environment="dev", outdir=outdir),
        {"dev": environment(upstream_port, database=database)},
    )
    return list(report.objects)


def overhead_ms(target: Target, model: str) -> float:
    body = {"model": model, "messages": [{"role": "user", "content": uuid.uuid4().hex}]}
    request = urllib.request.Request(  # noqa: S310 - loopback
        target.url + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {target.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        response.read()
        return float(response.headers[HEADER])


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def measure(requests: int, say: Callable[[str], None]) -> dict[str, list[float]]:
    """Per configuration, the overhead of each counted request (ms)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream_port = server.server_address[1]
    postgres = start_postgres()
    try:
        migrate(postgres)
        with tempfile.TemporaryDirectory(prefix="database-overhead-") as scratch:
            work = Path(scratch)
            say("synthesizing dev with and without the database")
            with_db = synth(upstream_port, work / "with", database=True)
            without_db = synth(upstream_port, work / "without", database=False)
            app_key = _app_key(with_db, work / "app-pod")
            login = postgres.new_database()
            database_env = login.litellm_env()
            salt = compose_container(
                with_db,
                "Job",
                _job(with_db, "litellm-migrate-"),
                work / "salt",
                container_name="salt-key-check",
            )
            scripts = ScriptProcesses(work / "scripts")
            if scripts.run(salt, database_env).returncode != 0:
                raise RuntimeError("the salt key check failed")
            plain = _launch_plain(compose(without_db, "litellm", work / "plain-pod"), work)
            with_database = launch_database_proxy(
                compose(with_db, "litellm", work / "db-pod", init_containers_run_by_caller=True),
                login,
                work,
                name="with-database",
            )
            try:
                say("booting both proxies (about a minute)")
                _wait_until_live(plain[0], plain[1] + "/health/liveliness", work / "plain.log")
                with running([with_database]):
                    job = compose_container(
                        with_db, "Job", _job(with_db, "litellm-keys-"), work / "job"
                    )
                    created = scripts.run(job, {"PROXY_URL": with_database.base_url})
                    if created.returncode != 0:
                        raise RuntimeError(f"the reconciler failed: {created.stderr}")
                    targets = [
                        Target("no database, master key", plain[1], plain[2]),
                        Target(
                            "database, master key", with_database.base_url, with_database.master_key
                        ),
                        Target(
                            "database, app key (spend tracked)", with_database.base_url, app_key
                        ),
                    ]
                    return _rounds(targets, _model(with_db), requests, say)
            finally:
                _stop(plain[0])
    finally:
        stop_postgres(postgres)
        server.shutdown()
        server.server_close()


def _rounds(
    targets: Sequence[Target], model: str, requests: int, say: Callable[[str], None]
) -> dict[str, list[float]]:
    for _ in range(WARM_UP):
        for target in targets:
            overhead_ms(target, model)
    samples: dict[str, list[float]] = {target.label: [] for target in targets}
    for index in range(requests):
        for offset in range(len(targets)):
            target = targets[(index + offset) % len(targets)]
            samples[target.label].append(overhead_ms(target, model))
        if (index + 1) % 50 == 0:
            say(f"{index + 1}/{requests} requests per configuration")
    return samples


def report(samples: Mapping[str, list[float]]) -> str:
    baseline = statistics.median(samples["no database, master key"])
    lines = [
        f"{'configuration':<36}{'median ms':>11}{'p95 ms':>9}{'median +ms':>12}",
    ]
    for label, values in samples.items():
        median = statistics.median(values)
        lines.append(f"{label:<36}{median:>11.1f}{p95(values):>9.1f}{median - baseline:>+12.1f}")
    count = len(next(iter(samples.values())))
    lines.append(f"({count} requests each, after {WARM_UP} warm-up; header {HEADER})")
    return "\n".join(lines)


def _launch_plain(
    container: ContainerProcess, work: Path
) -> tuple[subprocess.Popen[bytes], str, str]:
    """The proxy without a database, locked down on a free port: (process, base URL, key)."""
    port = free_port()
    args = list(container.args)
    args[args.index("--port") + 1] = str(port)
    scratch = work / "plain-scratch"
    scratch.mkdir()
    env = {"PATH": f"{PROXY_BIN.parent}:/usr/bin:/bin", "HOME": "/app", **OFFLINE, **container.env}
    with (work / "plain.log").open("wb") as log:
        process = subprocess.Popen(
            command(container, [str(PROXY_BIN), *args, "--host", "127.0.0.1"], scratch),
            cwd="/",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, f"http://127.0.0.1:{port}", env["LITELLM_MASTER_KEY"]


def _job(objects: Sequence[Any], prefix: str) -> str:
    (name,) = [
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "Job" and o["metadata"]["name"].startswith(prefix)
    ]
    return str(name)


def _app_key(objects: Sequence[Any], root: Path) -> str:
    """The chatbot's key as its container receives it (ClientVariables.OPENAI in dev)."""
    app = compose(objects, CHAT_APP, root, init_containers_run_by_caller=True)
    return app.env["OPENAI_API_KEY"]


def _model(objects: Sequence[Any]) -> str:
    (config_map,) = [o for o in objects if o["metadata"]["name"] == "litellm-key-declarations"]
    (declared,) = json.loads(config_map["data"]["keys.json"])["keys"]
    return str(declared["models"][0])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200, help="per configuration")
    args = parser.parse_args(argv)
    samples = measure(args.requests, lambda line: print(line, file=sys.stderr, flush=True))
    print(report(samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
