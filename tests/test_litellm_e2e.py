"""End to end: the real LiteLLM proxy, started only from the synthesized objects.

A fake OpenAI-compatible upstream runs on 127.0.0.1; an environment whose model points at it
is synthesized; the proxy process gets exactly the environment, config file and args that the
kubelet would give the LiteLLM container (tests/pod_runtime.py), and runs locked down as the
Deployment says (tests/locked_down.py): as its non-root user, with everything read-only except
its emptyDirs, so a write anywhere else fails loudly. Two things are adapted to a shared
machine and said here: the container port is mapped to a free local port, and the proxy
listens on 127.0.0.1 only. The proxy is the one pinned in pyproject.toml [tool.litellm-proxy],
installed by `make test` into .venv-proxy.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from lib.constructs.litellm import DRAIN_TIMEOUT_VARIABLE
from lib.environments import ENVIRONMENTS, PathPrefixMode
from lib.litellm_runtime import PROXY_GID, PROXY_UID, RUNTIME_ENV, UI_MOUNT
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.synthesis import SynthRequest, synthesize
from tests.helpers import (
    FAKE_MASTER_KEY,
    FAKE_SECRETS,
    PROJECT_ROOT,
    AgeKey,
    encrypt_document,
    without_gateway,
)
from tests.locked_down import command, in_namespace_of, kept_entries
from tests.pod_runtime import ContainerProcess, compose
from tests.proxy_harness import (
    OFFLINE,
    PROXY_BIN,
    _stop,
    _wait_until_live,
    free_port,
    http,
    process_status,
)

# What the proxy's log says when a write is refused; none may appear.
WRITE_REFUSED = (
    "Read-only file system",
    "Permission denied",
    "PermissionError",
    "Operation not permitted",
    "not writable",
    "Failed to populate UI",
)
MODEL = "e2e-model"
UPSTREAM_MODEL = "gpt-4o-mini"


@dataclass
class Upstream:
    port: int
    requests: list[tuple[str, str, str | None, Any]]


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Answers /models and /chat/completions like OpenAI; records every request."""

    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def _record(self, body: Any) -> None:
        self.server.requests.append(
            (self.command, self.path.split("?")[0], self.headers.get("Authorization"), body)
        )

    def _reply(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._record(None)
        if self.path.split("?")[0].endswith("/models"):
            self._reply(
                200, {"object": "list", "data": [{"id": UPSTREAM_MODEL, "object": "model"}]}
            )
        else:
            self._reply(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self._record(body)
        if not self.path.split("?")[0].endswith("/chat/completions"):
            self._reply(404, {"error": {"message": "not found"}})
            return
        self._reply(
            200,
            {
                "id": "chatcmpl-e2e",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", UPSTREAM_MODEL),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "pong"},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Upstream(port=server.server_address[1], requests=server.requests)  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@dataclass
class RunningProxy:
    base_url: str
    container: ContainerProcess
    log: Path
    ingress: Mapping[str, Any]
    mode: PathPrefixMode
    pid: int

    def public(self, path: str) -> str:
        """The URL the proxy is reached at for a public ``/litellm/...`` path, after the
        synthesized Ingress has done with it as ingress-nginx would."""
        return self.base_url + ingress_nginx_path(self.ingress, path)


def ingress_nginx_path(ingress: Mapping[str, Any], public_path: str) -> str:
    """The upstream path ingress-nginx sends for ``public_path``: with use-regex and
    rewrite-target, the path regex's groups substituted into the target; else unchanged."""
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    annotations = ingress["metadata"].get("annotations", {})
    target = annotations.get("nginx.ingress.kubernetes.io/rewrite-target")
    if target is None:
        assert path["pathType"] == "Prefix"
        assert public_path == path["path"] or public_path.startswith(path["path"] + "/")
        return public_path
    assert annotations["nginx.ingress.kubernetes.io/use-regex"] == "true"
    match = re.match(path["path"], public_path)
    assert match, f"{public_path} does not match {path['path']}"
    return re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))), target)


@pytest.fixture(scope="module")
def proxies(
    upstream: Upstream, age_key: AgeKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[PathPrefixMode, RunningProxy]]:
    """One proxy per path prefix mode, all booting at once (a boot is seconds of imports)."""
    if not PROXY_BIN.exists():
        pytest.fail(f"the LiteLLM proxy is not installed at {PROXY_BIN}: run `make test`")
    started: list[tuple[subprocess.Popen[bytes], RunningProxy]] = []
    try:
        for mode in PathPrefixMode:
            work = tmp_path_factory.mktemp(f"e2e-{mode.value}")
            started.append(_start_proxy(mode, upstream, age_key, work))
        for process, running in started:
            _wait_until_live(
                process, running.base_url + running.container.liveness_path, running.log
            )
        yield {running.mode: running for _, running in started}
    finally:
        for process, _ in started:
            _stop(process)


@pytest.fixture(scope="module", params=list(PathPrefixMode), ids=lambda mode: mode.value)
def proxy(
    request: pytest.FixtureRequest, proxies: dict[PathPrefixMode, RunningProxy]
) -> RunningProxy:
    return proxies[request.param]


def _start_proxy(
    mode: PathPrefixMode, upstream: Upstream, age_key: AgeKey, work: Path
) -> tuple[subprocess.Popen[bytes], RunningProxy]:
    secrets_file = encrypt_document(FAKE_SECRETS, work / "secrets.yaml", age_key.recipient)
    model = ModelSpec(
        name=MODEL,
        model=f"openai/{UPSTREAM_MODEL}",
        api_base=f"http://127.0.0.1:{upstream.port}/v1",
        api_key_env="OPENAI_API_KEY",
    )
    environments = {
        "e2e": replace(
            # The database-backed gateway runs in its own e2e tests, on a real Postgres.
            without_gateway(ENVIRONMENTS["dev"]),
            name="e2e",
            proxy=ProxyConfigSpec(models=(model,)),
            path_prefix_mode=mode,
            redis=None,  # one proxy process needs none; tests/test_scaling_e2e.py runs two
        )
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
        report = synthesize(
            SynthRequest(environment="e2e", outdir=work / "dist", secrets_file=secrets_file),
            environments,
        )
    objects = list(report.objects)
    container = compose(objects, "litellm", work / "configmaps")
    (ingress,) = [
        o
        for o in objects
        if o["kind"] == "Ingress" and o["metadata"]["name"] == "litellm"  # type: ignore[index]
    ]

    port = free_port()
    args = list(container.args)
    args[args.index("--port") + 1] = str(port)
    # Only what a container would have: no inherited *_API_KEY or anything else of ours. HOME
    # is the litellm-non_root image's (docker/Dockerfile.non_root): read-only there, absent
    # under a read-only root here.
    env = {
        "PATH": f"{PROXY_BIN.parent}:/usr/bin:/bin",
        "HOME": "/app",
        **OFFLINE,
        **container.env,
    }
    scratch = work / "scratch"
    scratch.mkdir()
    locked_down = command(
        container, [str(PROXY_BIN), *args, "--host", "127.0.0.1"], scratch, keep=[PROJECT_ROOT]
    )
    log = work / "proxy.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            locked_down,
            cwd="/",
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningProxy(
        base_url=f"http://127.0.0.1:{port}",
        container=container,
        log=log,
        ingress=ingress,
        mode=mode,
        pid=process.pid,
    )
    return process, running


def test_e2e_probe_paths_from_the_deployment_answer(proxy: RunningProxy) -> None:
    assert http("GET", proxy.base_url + proxy.container.liveness_path)[0] == 200
    status, body = http("GET", proxy.base_url + proxy.container.readiness_path)
    assert status == 200, body


def test_e2e_pod_gets_exactly_its_groups_keys(proxy: RunningProxy) -> None:
    # The admin UI and API pages are off without admin_ui.
    plain = {*RUNTIME_ENV, DRAIN_TIMEOUT_VARIABLE, "DISABLE_ADMIN_UI", "NO_DOCS", "NO_REDOC"} | (
        {"SERVER_ROOT_PATH"} if proxy.mode is PathPrefixMode.ROOT_PATH else set()
    )
    assert set(proxy.container.env) == set(FAKE_SECRETS["litellm"]) | plain
    assert proxy.container.container_port == 4000


def test_e2e_models_need_the_master_key(proxy: RunningProxy) -> None:
    status, body = http("GET", proxy.public("/litellm/v1/models"), token=FAKE_MASTER_KEY)
    assert status == 200, body
    assert [model["id"] for model in body["data"]] == [MODEL]
    assert http("GET", proxy.public("/litellm/v1/models"))[0] == 401


def test_e2e_chat_reaches_the_upstream_with_the_provider_key(
    proxy: RunningProxy, upstream: Upstream
) -> None:
    before = len(upstream.requests)
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}]}
    status, body = http(
        "POST", proxy.public("/litellm/v1/chat/completions"), token=FAKE_MASTER_KEY, body=chat
    )
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == "pong"
    posts = [r for r in upstream.requests[before:] if r[0] == "POST"]
    assert [(path, auth) for _, path, auth, _ in posts] == [
        ("/v1/chat/completions", f"Bearer {FAKE_SECRETS['litellm']['OPENAI_API_KEY']}")
    ]
    assert posts[0][3]["model"] == UPSTREAM_MODEL
    assert http("POST", proxy.public("/litellm/v1/chat/completions"), body=chat)[0] == 401


def test_e2e_openapi_document_under_the_prefix_only_in_root_path_mode(
    proxy: RunningProxy,
) -> None:
    """The trade-off the README states: with the prefix stripped, the OpenAPI document's
    server URL omits /litellm; in root_path mode it names it."""
    status, body = http("GET", proxy.public("/litellm/openapi.json"))
    assert status == 200, body
    servers = [server["url"] for server in body.get("servers", [])]
    if ingress_nginx_path(proxy.ingress, "/litellm/x") == "/x":
        assert not any(url.startswith("/litellm") for url in servers)
    else:
        assert servers == ["/litellm"]


def test_e2e_proxy_log_holds_no_secret_value(proxy: RunningProxy) -> None:
    log = proxy.log.read_text(errors="replace")
    assert "Uvicorn running" in log or "Application startup complete" in log
    for group in FAKE_SECRETS.values():
        for value in group.values():
            assert value not in log


def test_e2e_proxy_runs_as_the_deployments_user_without_privileges(proxy: RunningProxy) -> None:
    assert (proxy.container.user, proxy.container.group) == (PROXY_UID, PROXY_GID)
    status = process_status(proxy.pid)
    assert "litellm" in Path(f"/proc/{proxy.pid}/cmdline").read_text()
    assert status["Uid"].split() == [str(PROXY_UID)] * 4
    assert status["Gid"].split() == [str(PROXY_GID)] * 4
    # Only the pod's fsGroup is added, as the kubelet does; no group of the test process.
    assert status["Groups"].split() == [str(g) for g in proxy.container.supplementary_groups]
    assert proxy.container.supplementary_groups == (PROXY_GID,)
    assert status["NoNewPrivs"] == "1"
    assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) == 0


def test_e2e_proxy_writes_only_what_was_measured_into_its_emptydirs(proxy: RunningProxy) -> None:
    """lib/litellm_runtime.py's list, checked: the UI copy in its mount, nothing left in /tmp,
    and no refused write in the log (everything else is read-only, so one would show)."""
    root = Path(f"/proc/{proxy.pid}/root")
    # A checkout below an emptyDir's path (a clone in /tmp) is bound back into it: not written.
    kept = kept_entries(proxy.container, [PROJECT_ROOT])
    written = {
        mount.path: sorted(
            p.name
            for p in (root / mount.path.lstrip("/")).iterdir()
            if p.name not in kept[mount.path]
        )
        for mount in proxy.container.writable_mounts
    }
    ui_copy = proxy.container.env["LITELLM_UI_PATH"]
    assert PurePosixPath(ui_copy).parent == PurePosixPath(UI_MOUNT.path)
    assert written == {"/tmp": [], UI_MOUNT.path: [PurePosixPath(ui_copy).name]}
    assert (root / ui_copy.lstrip("/") / "index.html").is_file()
    log = proxy.log.read_text(errors="replace")
    assert [line for line in log.splitlines() if any(s in line for s in WRITE_REFUSED)] == []


def test_e2e_admin_ui_is_served_from_the_writable_copy(proxy: RunningProxy) -> None:
    """In root_path mode the proxy rewrites the UI's asset links to the prefix: proof that it
    found its copy writable. Without the prefix the links stay as packaged."""
    if proxy.mode is PathPrefixMode.ROOT_PATH:
        page = _get_text(proxy.public("/litellm/ui/"))
        assert "/litellm/_next/" in page
        assert "/litellm-asset-prefix/" not in page
    else:
        assert "/litellm-asset-prefix/_next/" in _get_text(proxy.base_url + "/ui/")


def _get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        return str(response.read().decode())


def test_e2e_a_write_outside_the_emptydirs_fails_as_the_same_user(proxy: RunningProxy) -> None:
    """From inside the proxy's own mount namespace, as its user: the emptyDirs take a file,
    and every other place that user could otherwise write refuses it as read-only."""
    outside = ["/", "/dev/shm", str(PROXY_BIN.parent.parent), "/etc/litellm", str(PROJECT_ROOT)]
    inside = [mount.path for mount in proxy.container.writable_mounts]
    results = {}
    for directory in [*outside, *inside]:
        probe = f"{directory.rstrip('/')}/.write-probe"
        touch = in_namespace_of(
            proxy.pid, proxy.container, ["sh", "-c", 'touch "$1" && rm "$1"', "sh", probe]
        )
        done = subprocess.run(touch, capture_output=True, text=True, check=False)
        results[directory] = "written" if done.returncode == 0 else done.stderr.strip()
    assert {d: results[d] for d in inside} == dict.fromkeys(inside, "written")
    for directory in outside:
        assert "Read-only file system" in results[directory], (directory, results[directory])
