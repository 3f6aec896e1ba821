"""End to end, on the real proxy: idle connections outlive uvicorn's 5 s default, and an answer
in progress when the pod is stopped still finishes.

One environment (dev's shape: one worker) is synthesized with a model on a fake upstream on
127.0.0.1 that can be slow. Three proxies start at once from the synthesized LiteLLM container,
locked down as its Deployment says (tests/pod_runtime.py, tests/locked_down.py), each on its own
free local port:

- ``as synthesized``: its args as the Deployment has them (``--keepalive_timeout`` included);
- ``without the keep-alive flag``: the same, with only ``--keepalive_timeout`` taken out, to
  show what the flag prevents;
- ``to stop``: as synthesized, stopped by the shutdown test the way the kubelet stops a pod.

Cost: the three boots overlap (~10-30 s on a loaded 2-core machine), one idle wait of 6 s, and
the slow answer (preStop sleep + 4 s). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lib import litellm_runtime
from lib.environments import ENVIRONMENTS
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.specs.availability import AvailabilitySpec
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
from tests.proxy_harness import OFFLINE, PROXY_BIN, _stop, _wait_until_live, free_port

# Longer than uvicorn's default keep-alive: a connection idle this long is closed without the
# flag. One such wait in the whole module.
IDLE_SECONDS = litellm_runtime.UVICORN_DEFAULT_KEEPALIVE_SECONDS + 1
# The slow answer is held until the test has seen new connections refused; never longer.
HOLD_LIMIT_SECONDS = 60
# How long after SIGTERM the listening socket may still accept (uvicorn closes it at once).
REFUSAL_WITHIN_SECONDS = 10
SLOW_MODEL = "slow-model"
FAST_MODEL = "fast-model"


class _Upstream(BaseHTTPRequestHandler):
    """OpenAI-compatible: ``slow-*`` models answer only once the test sets ``server.release``
    (at most after ``HOLD_LIMIT_SECONDS``), so the answer is in progress for as long as the
    test needs, whatever the machine's load."""

    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply({"object": "list", "data": [{"id": "m", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        model = str(body.get("model", ""))
        if model.startswith("slow"):
            self.server.slow_started.set()
            self.server.release.wait(timeout=HOLD_LIMIT_SECONDS)
        self._reply(
            {
                "id": "chatcmpl-e2e",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": f"answered {model}"},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )


@dataclass
class Proxy:
    port: int
    process: subprocess.Popen[bytes]
    container: ContainerProcess
    log: Path


@dataclass
class Pod:
    deployment: Mapping[str, Any]
    upstream: ThreadingHTTPServer
    synthesized: Proxy
    without_keepalive: Proxy
    to_stop: Proxy

    @property
    def prestop(self) -> list[str]:
        (container,) = self.deployment["spec"]["template"]["spec"]["containers"]
        return list(container["lifecycle"]["preStop"]["exec"]["command"])


def _chat_body(model: str) -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()


def _headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {FAKE_MASTER_KEY}"}


def _start(
    container: ContainerProcess, args: Sequence[str], work: Path, name: str
) -> tuple[int, subprocess.Popen[bytes], Path]:
    port = free_port()
    argv = list(args)
    argv[argv.index("--port") + 1] = str(port)
    scratch = work / f"{name}-scratch"
    scratch.mkdir()
    log = work / f"{name}.log"
    env = {"PATH": f"{PROXY_BIN.parent}:/usr/bin:/bin", "HOME": "/app", **OFFLINE, **container.env}
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command(
                container,
                [str(PROXY_BIN), *argv, "--host", "127.0.0.1"],
                scratch,
                keep=[PROJECT_ROOT],
            ),
            cwd="/",
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return port, process, log


@pytest.fixture(scope="module")
def pod(age_key: AgeKey, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    if not PROXY_BIN.exists():
        pytest.fail(f"the LiteLLM proxy is not installed at {PROXY_BIN}: run `make test`")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    upstream.daemon_threads = True
    upstream.slow_started = threading.Event()  # type: ignore[attr-defined]
    upstream.release = threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
    models = tuple(
        ModelSpec(name=name, model=f"openai/{name}", api_base=base, api_key_env="OPENAI_API_KEY")
        for name in (FAST_MODEL, SLOW_MODEL)
    )
    environment = replace(
        without_gateway(ENVIRONMENTS["dev"]),  # one proxy without Postgres
        name="stop",
        # A try may take 60 s: longer than the held answer, which the drain must wait for.
        proxy=ProxyConfigSpec(
            models=models,
            router=replace(
                ENVIRONMENTS["dev"].proxy.router, timeout=60, num_retries=0, fallbacks={}
            ),
        ),
        redis=None,
    )
    work = tmp_path_factory.mktemp("stop")
    secrets_file = encrypt_document(FAKE_SECRETS, work / "secrets.yaml", age_key.recipient)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
        report = synthesize(
            SynthRequest(environment="stop", outdir=work / "dist", secrets_file=secrets_file),
            {"stop": environment},
        )
    objects: list[Any] = list(report.objects)
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "litellm"
    ]
    container = compose(objects, "litellm", work / "configmaps")
    args = list(container.args)
    flag = args.index(litellm_runtime.KEEPALIVE_FLAG)
    without = args[:flag] + args[flag + 2 :]
    started: list[subprocess.Popen[bytes]] = []
    proxies = []
    try:
        for name, argv in (("synthesized", args), ("without", without), ("to-stop", args)):
            port, process, log = _start(container, argv, work, name)
            started.append(process)
            proxies.append(Proxy(port, process, container, log))
        with ThreadPoolExecutor(len(proxies)) as boot:
            for wait in [
                boot.submit(
                    _wait_until_live,
                    proxy.process,
                    f"http://127.0.0.1:{proxy.port}{container.liveness_path}",
                    proxy.log,
                )
                for proxy in proxies
            ]:
                wait.result()
        yield Pod(deployment, upstream, *proxies)
    finally:
        for process in started:
            _stop(process)
        upstream.shutdown()
        upstream.server_close()


def _post_on(connection: http.client.HTTPConnection, model: str) -> tuple[int, Any]:
    connection.request("POST", "/v1/chat/completions", body=_chat_body(model), headers=_headers())
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def _reuse_after_idle(connection: http.client.HTTPConnection) -> str:
    """Send a POST on ``connection`` (already used and now idle): its answer, or how it failed."""
    sock = connection.sock
    try:
        status, body = _post_on(connection, FAST_MODEL)
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
        return f"closed by the server: {type(error).__name__}"
    assert connection.sock is sock, "the client opened a new connection: nothing was reused"
    return f"{status} {body['choices'][0]['message']['content']}"


def test_keepalive_idle_connection_is_reused_only_with_the_flag(pod: Pod) -> None:
    """As ingress-nginx or a gateway does: a connection left idle, then reused for a POST. The
    synthesized proxy answers; the same proxy without ``--keepalive_timeout`` has closed the
    connection after uvicorn's 5 s, which behind a real ingress is a 502 (a POST is not
    retried)."""
    connections = {
        "synthesized": http.client.HTTPConnection("127.0.0.1", pod.synthesized.port, timeout=30),
        "without the flag": http.client.HTTPConnection(
            "127.0.0.1", pod.without_keepalive.port, timeout=30
        ),
    }
    for connection in connections.values():
        assert _post_on(connection, FAST_MODEL)[0] == 200
    time.sleep(IDLE_SECONDS)  # the one idle wait, for both connections at once
    outcome = {name: _reuse_after_idle(c) for name, c in connections.items()}
    for connection in connections.values():
        connection.close()
    assert outcome["synthesized"] == f"200 answered {FAST_MODEL}"
    assert outcome["without the flag"].startswith("closed by the server")
    keepalive = int(
        pod.synthesized.container.args[
            list(pod.synthesized.container.args).index(litellm_runtime.KEEPALIVE_FLAG) + 1
        ]
    )
    assert keepalive > IDLE_SECONDS


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def test_shutdown_answer_in_progress_finishes_and_new_connections_are_refused(pod: Pod) -> None:
    """The kubelet's way: the preStop hook (the Deployment's own command, run in the container
    as its user), then SIGTERM to the proxy. The request under way when both happen gets its
    200; a connection opened after SIGTERM is refused; the proxy exits within the grace
    period."""
    proxy = pod.to_stop
    sleep_seconds = int(pod.prestop[1])
    answer: dict[str, Any] = {}

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=120)
        try:
            answer["reply"] = _post_on(connection, SLOW_MODEL)
        except OSError as error:
            answer["reply"] = f"failed: {error!r}"
        finally:
            connection.close()

    asking = threading.Thread(target=ask)
    asking.start()
    assert pod.upstream.slow_started.wait(timeout=60)  # type: ignore[attr-defined]
    stop_started = time.monotonic()
    subprocess.run(
        in_namespace_of(proxy.process.pid, proxy.container, pod.prestop),
        check=True,
        timeout=sleep_seconds + 30,
    )
    proxy.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + REFUSAL_WITHIN_SECONDS
    while not _refused(proxy.port):
        assert time.monotonic() < deadline, "a new connection was still accepted after SIGTERM"
        time.sleep(0.1)
    assert asking.is_alive(), "the held answer ended before it was released"
    pod.upstream.release.set()  # type: ignore[attr-defined]
    asking.join(timeout=HOLD_LIMIT_SECONDS)
    assert answer["reply"] == (200, answer["reply"][1])
    assert answer["reply"][1]["choices"][0]["message"]["content"] == f"answered {SLOW_MODEL}"
    grace = int(pod.deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])
    exit_code = proxy.process.wait(timeout=grace)
    # uvicorn, its graceful shutdown done, raises the signal it caught again (server.py,
    # capture_signals), so the process ends as SIGTERM's default would have it.
    assert exit_code == -signal.SIGTERM
    # Its log, in order: the signal, then the held answer sent, then the application's teardown.
    lines = proxy.log.read_text(errors="replace").splitlines()

    def first(text: str) -> int:
        return next(n for n, line in enumerate(lines) if text in line)

    assert (
        first("Shutting down")
        < first('"POST /v1/chat/completions HTTP/1.1" 200')
        < first("Application shutdown complete")
    )
    assert time.monotonic() - stop_started < grace
    assert grace == sleep_seconds + 60 + 10 + AvailabilitySpec.SHUTDOWN_MARGIN_SECONDS
