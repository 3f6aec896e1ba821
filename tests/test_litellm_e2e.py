"""End to end: the real LiteLLM proxy, started only from the synthesized objects.

A fake OpenAI-compatible upstream runs on 127.0.0.1; an environment whose model points at it
is synthesized; the proxy process gets exactly the environment, config file and args that the
kubelet would give the LiteLLM container (tests/pod_runtime.py). Two things are adapted to a
shared machine and said here: the container port is mapped to a free local port, and the
proxy listens on 127.0.0.1 only. The proxy is the one pinned in pyproject.toml
[tool.litellm-proxy], installed by `make test` into .venv-proxy.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lib.environments import ENVIRONMENTS, PathPrefixMode
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.synthesis import SynthRequest, synthesize
from tests.helpers import FAKE_MASTER_KEY, FAKE_SECRETS, AgeKey, encrypt_document
from tests.pod_runtime import ContainerProcess, compose
from tests.proxy_harness import (
    OFFLINE,
    PROXY_BIN,
    _stop,
    _wait_until_live,
    free_port,
    http,
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


@pytest.fixture(scope="module", params=list(PathPrefixMode), ids=lambda mode: mode.value)
def proxy(
    request: pytest.FixtureRequest,
    upstream: Upstream,
    age_key: AgeKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningProxy]:
    if not PROXY_BIN.exists():
        pytest.fail(f"the LiteLLM proxy is not installed at {PROXY_BIN}: run `make test`")
    work = tmp_path_factory.mktemp("e2e")
    secrets_file = encrypt_document(FAKE_SECRETS, work / "secrets.yaml", age_key.recipient)
    model = ModelSpec(
        name=MODEL,
        model=f"openai/{UPSTREAM_MODEL}",
        api_base=f"http://127.0.0.1:{upstream.port}/v1",
        api_key_env="OPENAI_API_KEY",
    )
    environments = {
        "e2e": replace(
            ENVIRONMENTS["dev"],
            name="e2e",
            proxy=ProxyConfigSpec(models=(model,)),
            path_prefix_mode=request.param,
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
    container = compose(objects, "litellm", work / "root")
    (ingress,) = [o for o in objects if o["kind"] == "Ingress"]

    port = free_port()
    args = list(container.args)
    args[args.index("--port") + 1] = str(port)
    # Only what a container would have: no inherited *_API_KEY or anything else of ours.
    env = {
        "PATH": f"{PROXY_BIN.parent}:/usr/bin:/bin",
        "HOME": str(work / "home"),
        **OFFLINE,
        **container.env,
    }
    log = work / "proxy.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(PROXY_BIN), *args, "--host", "127.0.0.1"],
            cwd=work,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_live(process, base_url + container.liveness_path, log)
        yield RunningProxy(
            base_url=base_url, container=container, log=log, ingress=ingress, mode=request.param
        )
    finally:
        _stop(process)


def test_e2e_probe_paths_from_the_deployment_answer(proxy: RunningProxy) -> None:
    assert http("GET", proxy.base_url + proxy.container.liveness_path)[0] == 200
    status, body = http("GET", proxy.base_url + proxy.container.readiness_path)
    assert status == 200, body


def test_e2e_pod_gets_exactly_its_groups_keys(proxy: RunningProxy) -> None:
    plain = {"SERVER_ROOT_PATH"} if proxy.mode is PathPrefixMode.ROOT_PATH else set()
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
