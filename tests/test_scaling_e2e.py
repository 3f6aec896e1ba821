"""End to end: two real LiteLLM proxy replicas sharing a real Redis, all composed from the
synthesized objects and all run locked down as their Deployments say.

One environment is synthesized with two replicas, the in-cluster Valkey, the response cache,
fallbacks, a per-model rate limit and metrics. Then, the way the kubelet would start them
(tests/pod_runtime.py composes each container, tests/locked_down.py runs it as the pod's
numeric non-root user with a read-only root and only its emptyDirs writable, at their real
paths):

- the Valkey Deployment's container becomes a ``redis-server`` process (Debian's Redis 7 stands
  in for ``valkey-server``, which speaks the same protocol and takes the same flags): its
  command line is the Deployment's args with ``$(REDIS_PASSWORD)`` expanded from its env (the
  Secret's key), as the kubelet expands them, and ``/data`` is its emptyDir;
- the LiteLLM Deployment's container becomes two proxy processes, each in its own mount
  namespace with its own emptyDirs (``/tmp``, the UI copy, the metrics multiproc directory).

Adapted to a shared machine, and only this: every container port is mapped to a free port on
127.0.0.1 and every process listens there only; the Service name ``valkey`` in ``REDIS_HOST``
resolves to 127.0.0.1 and its port to Redis's local port (what cluster DNS and the Service do).
The fake providers are reached through each model's ``api_base`` in the test's own config.
All three processes start at once, once per module.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lib.environments import ENVIRONMENTS
from lib.litellm_runtime import PROXY_GID, PROXY_UID
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.specs.cache import CacheSpec
from lib.specs.metrics import MULTIPROC_DIR, MetricsSpec
from lib.specs.redis import VALKEY_UID, InClusterValkey
from lib.specs.router import RouterSpec
from lib.synthesis import SynthRequest, synthesize
from tests.helpers import (
    FAKE_MASTER_KEY,
    FAKE_SECRETS,
    PROJECT_ROOT,
    AgeKey,
    encrypt_document,
    without_gateway,
)
from tests.locked_down import command, in_namespace_of
from tests.pod_runtime import ContainerProcess, compose
from tests.proxy_harness import (
    BOOT_TIMEOUT_SECONDS,
    OFFLINE,
    PROXY_BIN,
    _stop,
    _wait_until_live,
    free_port,
    http,
    process_status,
)
from tests.test_litellm_e2e import WRITE_REFUSED

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
SLOW_MODEL_TIMEOUT_SECONDS = 2
HANG_SECONDS = 20
RATE_LIMIT_RPM = 3
RATE_LIMITED_UPSTREAM = "ok-limited"
# Rate-limit attempts, each inside one UTC minute (LiteLLM's counting window); one that a very
# loaded machine stretches across a minute's end is repeated in the next minute.
RATE_LIMIT_ATTEMPTS = 3
# An attempt starts only with this much of its minute left: less would only waste a minute.
RATE_LIMIT_HEADROOM_SECONDS = 10
# How long a replica may take to write to Redis what it does in the background: far beyond
# the milliseconds it takes, so that only a write that never comes fails.
REDIS_WRITE_DEADLINE_SECONDS = 60
# The key of the first string value in Redis holding ARGV[1] (a plain substring search).
FIND_VALUE_SCRIPT = """
for _, key in ipairs(redis.call('KEYS', '*')) do
  if redis.call('TYPE', key).ok == 'string'
      and string.find(redis.call('GET', key), ARGV[1], 1, true) then
    return key
  end
end
return false
"""


class _FakeProvider(BaseHTTPRequestHandler):
    """An OpenAI-compatible provider. The upstream model name picks the behaviour: ``fail-*``
    answers 500, ``hang-*`` answers only after HANG_SECONDS, anything else answers 200."""

    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the proxy gave up on a hanging request

    def do_GET(self) -> None:
        self._reply(200, {"object": "list", "data": [{"id": "any", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        model = str(body.get("model", ""))
        self.server.calls.append((self.headers.get("Authorization"), model, body))
        if model.startswith("fail-"):
            self._reply(500, {"error": {"message": "upstream broke", "type": "server_error"}})
            return
        if model.startswith("hang-"):
            time.sleep(HANG_SECONDS)
        self._reply(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": self.server.answer},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


@dataclass
class Provider:
    base: str
    calls: list[tuple[str | None, str, Any]]

    def calls_with(self, text: str) -> list[tuple[str | None, str, Any]]:
        return [call for call in self.calls if text in json.dumps(call[2])]


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, Provider]]:
    servers = {}
    for name in ("primary", "fallback"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeProvider)
        server.daemon_threads = True
        server.calls = []  # type: ignore[attr-defined]
        server.answer = f"answered by {name}"  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[name] = server
    yield {
        name: Provider(f"http://127.0.0.1:{s.server_address[1]}/v1", s.calls)  # type: ignore[attr-defined]
        for name, s in servers.items()
    }
    for server in servers.values():
        server.shutdown()
        server.server_close()


def scaling_environment(providers: Mapping[str, Provider]) -> Any:
    primary, fallback = providers["primary"].base, providers["fallback"].base
    dev = without_gateway(ENVIRONMENTS["dev"])

    def openai(name: str, upstream: str, **limits: Any) -> ModelSpec:
        return ModelSpec(
            name=name,
            model=f"openai/{upstream}",
            api_base=primary,
            api_key_env="OPENAI_API_KEY",
            **limits,
        )

    proxy = ProxyConfigSpec(
        models=(
            openai("cached", "ok-cached"),
            openai("limited", "ok-limited", rpm=RATE_LIMIT_RPM),
            openai("flaky", "fail-flaky"),
            openai("slow", "hang-slow", timeout=SLOW_MODEL_TIMEOUT_SECONDS),
            ModelSpec(
                name="backup",
                model="openrouter/vendor/backup",
                api_base=fallback,
                api_key_env="OPENROUTER_API_KEY",
            ),
        ),
        router=RouterSpec(num_retries=0, fallbacks={"flaky": ("backup",), "slow": ("backup",)}),
        cache=CacheSpec(ttl_seconds=600),
    )
    return replace(
        dev,
        name="scale",
        gateway=replace(dev.gateway, replicas=2),
        proxy=proxy,
        redis=InClusterValkey(),
        metrics=MetricsSpec(service_monitor_labels={"release": "kube-prometheus-stack"}),
    )


def _by_kind_name(objects: Sequence[Mapping[str, Any]], kind: str, name: str) -> Any:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@dataclass
class LockedDownProcess:
    """A container's process as started here: its pid, what it was composed from, its log."""

    pid: int
    container: ContainerProcess
    log: Path


@dataclass
class Replica(LockedDownProcess):
    base_url: str
    metrics_port: int


@dataclass
class Valkey(LockedDownProcess):
    port: int
    password: str


@dataclass
class Cluster:
    objects: Sequence[Mapping[str, Any]]
    replicas: tuple[Replica, Replica]
    valkey: Valkey

    @property
    def processes(self) -> list[LockedDownProcess]:
        return [self.valkey, *self.replicas]


def _start_locked_down(
    container: ContainerProcess,
    argv: Sequence[str],
    env: Mapping[str, str],
    work: Path,
    name: str,
) -> tuple[subprocess.Popen[bytes], Path]:
    scratch = work / f"{name}-scratch"
    scratch.mkdir()
    log = work / f"{name}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command(container, argv, scratch, keep=[PROJECT_ROOT]),
            cwd="/",
            env=dict(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """What the Valkey Deployment's TCP probes check: the port accepts a connection."""
    deadline = time.monotonic() + BOOT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"redis-server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"redis-server did not listen within {BOOT_TIMEOUT_SECONDS} s:\n{log.read_text()}")


def _valkey_argv(container: ContainerProcess, port: int) -> list[str]:
    """redis-server in place of the image's valkey-server, with the Deployment's args (their
    ``$(REDIS_PASSWORD)`` already expanded), on a local port."""
    assert container.command == ("valkey-server",)
    args = list(container.args)
    assert args[args.index("--port") + 1] == str(container.container_port)
    args[args.index("--port") + 1] = str(port)
    return [REDIS_SERVER, *args, "--bind", "127.0.0.1"]


@pytest.fixture(scope="module")
def cluster(
    providers: Mapping[str, Provider], age_key: AgeKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    if not PROXY_BIN.exists():
        pytest.fail(f"the LiteLLM proxy is not installed at {PROXY_BIN}: run `make test`")
    if not Path(REDIS_SERVER).exists():
        pytest.fail("redis-server is not installed: run `make test` (it installs it with apt-get)")
    work = tmp_path_factory.mktemp("scale")
    secrets_file = encrypt_document(FAKE_SECRETS, work / "secrets.yaml", age_key.recipient)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
        report = synthesize(
            SynthRequest(environment="scale", outdir=work / "dist", secrets_file=secrets_file),
            {"scale": scaling_environment(providers)},
        )
    objects = list(report.objects)
    started: list[subprocess.Popen[bytes]] = []
    try:
        valkey_container = compose(objects, "valkey", work / "valkey-pod")
        redis_port = free_port()
        # The image's PATH; everything else is the pod's.
        redis_process, redis_log = _start_locked_down(
            valkey_container,
            _valkey_argv(valkey_container, redis_port),
            {"PATH": "/usr/bin:/bin", **valkey_container.env},
            work,
            "valkey",
        )
        started.append(redis_process)
        replicas = []
        for index in range(2):
            container = compose(objects, "litellm", work / f"pod-{index}")
            port, metrics_port = free_port(), free_port()
            args = list(container.args)
            args[args.index("--port") + 1] = str(port)
            args[args.index("--prometheus_metrics_port") + 1] = str(metrics_port)
            assert container.env["REDIS_HOST"] == "valkey"
            assert container.env["REDIS_PORT"] == "6379"
            # As in tests/test_litellm_e2e.py: nothing of the test process's own environment;
            # HOME is the litellm-non_root image's.
            env = {
                "PATH": f"{PROXY_BIN.parent}:/usr/bin:/bin",
                "HOME": "/app",
                **OFFLINE,
                **container.env,
                "REDIS_HOST": "127.0.0.1",  # the Service "valkey", resolved
                "REDIS_PORT": str(redis_port),  # its port 6379, mapped
            }
            process, log = _start_locked_down(
                container,
                [str(PROXY_BIN), *args, "--host", "127.0.0.1"],
                env,
                work,
                f"proxy-{index}",
            )
            started.append(process)
            replicas.append(
                Replica(process.pid, container, log, f"http://127.0.0.1:{port}", metrics_port)
            )
        # All three boot at once; each is waited for by its own probe.
        with ThreadPoolExecutor(3) as pool:
            waits = [
                pool.submit(_wait_until_listening, redis_process, redis_port, redis_log),
                *(
                    pool.submit(
                        _wait_until_live,
                        process,
                        replica.base_url + replica.container.liveness_path,
                        replica.log,
                    )
                    for process, replica in zip(started[1:], replicas, strict=True)
                ),
            ]
            for wait in waits:
                wait.result()
        valkey = Valkey(
            redis_process.pid,
            valkey_container,
            redis_log,
            redis_port,
            valkey_container.env["REDIS_PASSWORD"],
        )
        yield Cluster(objects, (replicas[0], replicas[1]), valkey)
    finally:
        for process in reversed(started):
            _stop(process)


def chat(replica: Replica, model: str, text: str) -> tuple[int, Any]:
    return http(
        "POST",
        replica.base_url + "/v1/chat/completions",
        token=FAKE_MASTER_KEY,
        body={"model": model, "messages": [{"role": "user", "content": text}]},
    )


def test_scaling_redis_runs_from_the_valkey_deployment_with_the_secret_password(
    cluster: Cluster,
) -> None:
    assert cluster.valkey.password == FAKE_SECRETS["litellm"]["REDIS_PASSWORD"]
    args = cluster.valkey.container.args
    assert args[args.index("--requirepass") + 1] == cluster.valkey.password
    ping = ["redis-cli", "-p", str(cluster.valkey.port), "--no-auth-warning"]
    refused = subprocess.run([*ping, "ping"], capture_output=True, text=True, check=False)
    assert "NOAUTH" in refused.stdout + refused.stderr
    allowed = subprocess.run(
        [*ping, "-a", cluster.valkey.password, "ping"], capture_output=True, text=True, check=True
    )
    assert allowed.stdout.strip() == "PONG"


def _redis(valkey: Valkey, *args: str) -> str:
    """One redis-cli command against the Valkey process; the password goes by environment,
    not on a command line others can read."""
    return subprocess.run(
        [REDIS_CLI, "-p", str(valkey.port), *args],
        env={"REDISCLI_AUTH": valkey.password},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _wait_until_stored_in_redis(valkey: Valkey, text: str) -> None:
    """Poll until a value in Redis holds ``text`` (such as a cached answer's unique id)."""
    deadline = time.monotonic() + REDIS_WRITE_DEADLINE_SECONDS
    while not _redis(valkey, "eval", FIND_VALUE_SCRIPT, "0", text):
        if time.monotonic() > deadline:
            pytest.fail(f"no value in Redis holds {text!r} after {REDIS_WRITE_DEADLINE_SECONDS} s")
        time.sleep(0.05)


def test_scaling_two_replicas_share_the_response_cache(
    cluster: Cluster, providers: Mapping[str, Provider]
) -> None:
    text = f"cache me {uuid.uuid4().hex}"
    first, second = cluster.replicas
    status, answer_a = chat(first, "cached", text)
    assert status == 200, answer_a
    # The cache write to Redis completes after the answer is sent: B asks once it is there.
    _wait_until_stored_in_redis(cluster.valkey, answer_a["id"])
    status, answer_b = chat(second, "cached", text)
    assert status == 200, answer_b
    assert answer_b["choices"][0]["message"] == answer_a["choices"][0]["message"]
    assert len(providers["primary"].calls_with(text)) == 1


def test_scaling_failing_model_is_answered_by_its_fallback_with_the_fallbacks_key(
    cluster: Cluster, providers: Mapping[str, Provider]
) -> None:
    text = f"fail over {uuid.uuid4().hex}"
    status, answer = chat(cluster.replicas[0], "flaky", text)
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"] == "answered by fallback"
    assert [(auth, model) for auth, model, _ in providers["primary"].calls_with(text)] == [
        (f"Bearer {FAKE_SECRETS['litellm']['OPENAI_API_KEY']}", "fail-flaky")
    ]
    assert [(auth, model) for auth, model, _ in providers["fallback"].calls_with(text)] == [
        (f"Bearer {FAKE_SECRETS['litellm']['OPENROUTER_API_KEY']}", "vendor/backup")
    ]


def test_scaling_hanging_model_times_out_into_its_fallback(
    cluster: Cluster, providers: Mapping[str, Provider]
) -> None:
    text = f"too slow {uuid.uuid4().hex}"
    started = time.monotonic()
    status, answer = chat(cluster.replicas[1], "slow", text)
    elapsed = time.monotonic() - started
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"] == "answered by fallback"
    assert SLOW_MODEL_TIMEOUT_SECONDS <= elapsed < HANG_SECONDS / 2
    assert len(providers["primary"].calls_with(text)) == 1
    fallback_calls = providers["fallback"].calls_with(text)
    assert [auth for auth, _, _ in fallback_calls] == [
        f"Bearer {FAKE_SECRETS['litellm']['OPENROUTER_API_KEY']}"
    ]


def _utc_minute() -> str:
    """LiteLLM's rate-limit window as it names its counters: the UTC minute, ``%H-%M``."""
    return time.strftime("%H-%M", time.gmtime())


def _minute_with_room(headroom_seconds: float) -> str:
    """The current UTC minute, or the next one if less than ``headroom_seconds`` are left."""
    if 60 - time.time() % 60 < headroom_seconds:
        _wait_for_the_minute_after(_utc_minute())
    return _utc_minute()


def _wait_for_the_minute_after(minute: str) -> None:
    while _utc_minute() == minute:
        time.sleep(0.2)


def _rpm_counted_in_redis(valkey: Valkey, upstream: str, minute: str) -> float:
    """What the replicas have pushed to Redis for ``upstream`` in ``minute``: LiteLLM counts
    each process's requests in memory and adds them to ``<deployment id>:<model>:rpm:<minute>``
    in Redis in the background (every 0.1 s); another replica reads that key to route. (The
    ``global_router:``-prefixed key of the same name is a separate count of answered requests,
    which routing does not read.)"""
    keys = [
        key
        for key in _redis(
            valkey, "--scan", "--pattern", f"*:openai/{upstream}:rpm:{minute}"
        ).split()
        if not key.startswith("global_router:")
    ]
    return sum(float(_redis(valkey, "get", key) or 0) for key in keys)


def _counted_in_redis_within(valkey: Valkey, minute: str, expected: int) -> float | None:
    """Poll Redis until ``expected`` requests of ``minute`` are counted there: what is in
    Redis, or None if the minute ended first."""
    while _utc_minute() == minute:
        counted = _rpm_counted_in_redis(valkey, RATE_LIMITED_UPSTREAM, minute)
        if counted >= expected:
            return counted
        time.sleep(0.05)
    return None


def test_scaling_rate_limit_holds_across_replicas(
    cluster: Cluster, providers: Mapping[str, Provider]
) -> None:
    """rpm is counted in Redis: replica B, which has served nothing, refuses once replica A
    has used the model's minute. (LiteLLM 1.106.12, like 1.106.2, refuses the request that
    would bring the count to rpm, so rpm 3 admits 2 a minute; alone, B would admit its own 2.)

    B asks only once Redis holds A's count (polled, not slept for), and the whole sequence
    must fall inside one UTC minute, LiteLLM's window; else it is repeated in the next minute,
    with fresh counters. Nothing here depends on how fast the machine is."""
    first, second = cluster.replicas
    admits = RATE_LIMIT_RPM - 1
    for _ in range(RATE_LIMIT_ATTEMPTS):
        minute = _minute_with_room(RATE_LIMIT_HEADROOM_SECONDS)
        tag = uuid.uuid4().hex
        admitted = [chat(first, "limited", f"{tag} a{n}")[0] for n in range(admits)]
        # Fresh counters in a new minute: A's first requests are admitted whatever the clock.
        assert admitted == [200] * admits
        counted = _counted_in_redis_within(cluster.valkey, minute, admits)
        if counted is not None:
            status, body = chat(second, "limited", f"{tag} b")
            again = chat(first, "limited", f"{tag} a-again")[0]
            if _utc_minute() == minute:
                break
        # The window turned mid-sequence; the minute it turned into may hold some of this
        # attempt's counts, so the next attempt starts in the one after.
        _wait_for_the_minute_after(_utc_minute())
    else:
        pytest.fail(
            f"none of {RATE_LIMIT_ATTEMPTS} attempts had replica A's {admits} requests counted "
            "in Redis and replica B asked within one UTC minute"
        )
    assert counted == admits
    assert status == 429, body
    assert "rpm" in str(body)
    assert again == 429
    assert len(providers["primary"].calls_with(tag)) == admits


def _scrape_targets(cluster: Cluster) -> list[str]:
    """The URLs Prometheus scrapes, followed from the ServiceMonitor as the operator does:
    endpoint port name -> Service port -> target port -> each pod's container port."""
    (monitor,) = [o for o in cluster.objects if o["kind"] == "ServiceMonitor"]
    (endpoint,) = monitor["spec"]["endpoints"]
    services = [
        o
        for o in cluster.objects
        if o["kind"] == "Service"
        and monitor["spec"]["selector"]["matchLabels"].items()
        <= o["metadata"].get("labels", {}).items()
    ]
    (service,) = services
    (service_port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    deployment = _by_kind_name(cluster.objects, "Deployment", service["metadata"]["name"])
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (container_port,) = [
        p for p in container["ports"] if p["containerPort"] == service_port["targetPort"]
    ]
    assert container_port["containerPort"] == 9090
    # Under the namespace's default-deny, one policy admits that port, from Prometheus's
    # namespace only.
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    admitting = [
        (o["spec"]["podSelector"]["matchLabels"], rule["from"])
        for o in cluster.objects
        if o["kind"] == "NetworkPolicy"
        for rule in o["spec"].get("ingress", [])
        if {"protocol": "TCP", "port": 9090} in rule.get("ports", [])
    ]
    ((selector, peers),) = admitting
    assert selector.items() <= pod_labels.items()
    assert peers == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert endpoint["scheme"] == "http"
    assert "bearerTokenSecret" not in endpoint
    assert "authorization" not in endpoint
    # Each replica's container port is mapped to its own local port.
    return [
        f"http://127.0.0.1:{replica.metrics_port}{endpoint['path']}" for replica in cluster.replicas
    ]


def test_scaling_metrics_scraped_as_the_service_monitor_says_without_the_master_key(
    cluster: Cluster,
) -> None:
    text = f"count me {uuid.uuid4().hex}"
    for replica in cluster.replicas:
        assert chat(replica, "cached", text)[0] == 200
    for url, replica in zip(_scrape_targets(cluster), cluster.replicas, strict=True):
        deadline = time.monotonic() + 10
        while True:
            status, body = _get_text(url)
            assert status == 200, body
            requests = re.findall(
                r'^litellm_proxy_total_requests_metric_total\{[^}]*requested_model="cached"'
                r"[^}]*\} ([0-9.]+)$",
                body,
                flags=re.MULTILINE,
            )
            if requests or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert requests, f"no request counter for model 'cached' at {url}"
        # The proxy's own port keeps /metrics behind the master key.
        assert http("GET", replica.base_url + "/metrics/")[0] == 401


def _get_text(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_scaling_proxy_logs_hold_no_secret_value(cluster: Cluster) -> None:
    for replica in cluster.replicas:
        log = replica.log.read_text(errors="replace")
        for group in FAKE_SECRETS.values():
            for value in group.values():
                assert value not in log


def test_scaling_every_process_runs_as_its_deployment_says(cluster: Cluster) -> None:
    """Valkey as its high uid, each replica as the proxy's; no privileges, no capabilities,
    only the pod's fsGroup as a supplementary group."""
    users = {
        "valkey": (cluster.valkey.container.user, cluster.valkey.container.group),
        "litellm": {(r.container.user, r.container.group) for r in cluster.replicas},
    }
    assert users == {"valkey": (VALKEY_UID, VALKEY_UID), "litellm": {(PROXY_UID, PROXY_GID)}}
    for process in cluster.processes:
        status = process_status(process.pid)
        container = process.container
        assert status["Uid"].split() == [str(container.user)] * 4
        assert status["Gid"].split() == [str(container.group)] * 4
        assert status["Groups"].split() == [str(g) for g in container.supplementary_groups]
        assert status["NoNewPrivs"] == "1"
        assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) == 0
    assert "redis-server" in Path(f"/proc/{cluster.valkey.pid}/cmdline").read_text()


def _writes(process: LockedDownProcess, directory: str) -> str:
    """Try a write in ``directory`` from inside ``process``'s mount namespace, as its user."""
    probe = f"{directory.rstrip('/')}/.write-probe"
    argv = in_namespace_of(
        process.pid, process.container, ["sh", "-c", 'touch "$1" && rm "$1"', "sh", probe]
    )
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    return "written" if done.returncode == 0 else done.stderr.strip()


def test_scaling_processes_write_only_into_their_emptydirs(cluster: Cluster) -> None:
    """Each process's emptyDirs take a file and every other place refuses it as read-only; the
    metrics samples are in the multiproc emptyDir, and no log shows a refused write."""
    assert [m.path for m in cluster.valkey.container.writable_mounts] == ["/data"]
    for replica in cluster.replicas:
        assert MULTIPROC_DIR in [m.path for m in replica.container.writable_mounts]
    for process in cluster.processes:
        inside = [m.path for m in process.container.writable_mounts]
        assert {d: _writes(process, d) for d in inside} == dict.fromkeys(inside, "written")
        for directory in ("/", "/var/tmp", "/dev/shm", str(PROJECT_ROOT)):
            assert "Read-only file system" in _writes(process, directory), directory
        log = process.log.read_text(errors="replace")
        assert [line for line in log.splitlines() if any(s in line for s in WRITE_REFUSED)] == []
    for replica in cluster.replicas:
        assert chat(replica, "cached", f"sample me {uuid.uuid4().hex}")[0] == 200
        listing = subprocess.run(
            in_namespace_of(replica.pid, replica.container, ["ls", "-A", MULTIPROC_DIR]),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        assert any(name.endswith(".db") for name in listing.stdout.split()), listing.stdout


# A config that is wrong never reaches a proxy: the real CLI refuses it, writing nothing.
_BAD_CONFIGS = {
    "unknown-fallback": (
        "proxy=replace(dev.proxy, router=RouterSpec(fallbacks={'gpt-4o-mini': ('gpt-9-nope',)}))",
        "error: lib/environments.py, environment 'bad': router fallbacks of model 'gpt-4o-mini' "
        "names 'gpt-9-nope', which is not a declared model: declare it in models or remove it "
        "from the list",
    ),
    "cache-without-redis": (
        "redis=None",
        "error: lib/environments.py, environment 'bad': the response cache needs Redis, and the "
        "environment has none: set the environment's redis (ExistingRedis or InClusterValkey) "
        "or turn the cache off",
    ),
    "replicas-without-redis": (
        "redis=None, proxy=replace(dev.proxy, cache=None), "
        "gateway=replace(dev.gateway, replicas=3)",
        "error: lib/environments.py, environment 'bad': 3 replicas x 1 workers without Redis: "
        "rate limits, cooldowns and the cache would be kept per process; set redis "
        "(ExistingRedis or InClusterValkey) or run 1 replica with 1 worker",
    ),
}
_DRIVER = """
import sys
from dataclasses import replace
sys.path.insert(0, {root!r})
from lib import environments
from lib.cli import main
from lib.specs.router import RouterSpec
dev = environments.ENVIRONMENTS["dev"]
environments.ENVIRONMENTS["bad"] = replace(dev, name="bad", {change})
sys.exit(main(["--env", "bad", "--secrets", {secrets!r}, "--outdir", {outdir!r}]))
"""


@pytest.mark.parametrize("case", sorted(_BAD_CONFIGS))
def test_scaling_cli_refuses_a_bad_config_before_any_proxy(
    case: str, fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    change, expected = _BAD_CONFIGS[case]
    outdir = tmp_path / "dist"
    driver = _DRIVER.format(
        root=str(PROJECT_ROOT), change=change, secrets=str(fixture_secrets), outdir=str(outdir)
    )
    result = subprocess.run(
        [sys.executable, "-c", driver],
        env={
            "PATH": "/usr/bin:/bin",
            "SOPS_AGE_KEY_FILE": str(age_key.key_file),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr, result.stdout) == (1, expected + "\n", "")
    assert not outdir.exists()
