"""Measure the LiteLLM proxy's CPU per process in prod's layout: the figures behind
``lib.litellm_runtime.cpu_budget``.

Run from the project root: ``.venv/bin/python -m benchmarks.proxy_cpu``. It starts, on
127.0.0.1 only: a Redis (Debian's redis-server, as prod's proxy shares one), a fake
OpenAI-compatible upstream that answers at once, and the pinned proxy (``.venv-proxy``) with
prod's process layout: ``--num_workers 2`` and ``--prometheus_metrics_port`` (a uvicorn
supervisor, two spawned workers, the metrics server), the Redis coordination settings and the
Prometheus callback. After the boot settles it samples each process's CPU time
(``/proc/<pid>/stat`` utime + stime, so the machine's other load does not inflate it) over an
idle window, then over a window of a small steady load (chat completions at a fixed rate,
spread over the workers by the kernel), and prints millicores per process and CPU
milliseconds per request. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.specs.redis import RedisConnection

ROOT = Path(__file__).resolve().parent.parent
PROXY = ROOT / ".venv-proxy" / "bin" / "litellm"
SETTLE_SECONDS = 30
IDLE_SECONDS = 60
LOAD_SECONDS = 60
LOAD_REQUESTS_PER_SECOND = 5
MASTER_KEY = "sk-measure-" + "0" * 24  # made up here; the proxy only needs one that is not default
TICKS = os.sysconf("SC_CLK_TCK")


class _Upstream(BaseHTTPRequestHandler):
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
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(
            {
                "id": "chatcmpl-measure",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "ok"},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _role(pid: int, root: int, metrics_port: int) -> str:
    if pid == root:
        return "supervisor"
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    if "resource_tracker" in cmdline:
        return "resource_tracker"
    listening = _listening_ports(pid)
    if metrics_port in listening:
        return "metrics"
    return "worker"


def _listening_ports(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # LISTEN
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def _sample(pids: dict[int, str], seconds: float, load: Any = None) -> dict[int, float]:
    before = {pid: _cpu_ticks(pid) for pid in pids}
    started = time.monotonic()
    if load is not None:
        load(seconds)
    else:
        time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {
        pid: (_cpu_ticks(pid) - ticks) / TICKS / elapsed * 1000 for pid, ticks in before.items()
    }


def main() -> int:
    if not PROXY.exists():
        print(f"no proxy at {PROXY}: run `make test` first", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="proxy-cpu-"))
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    redis_port, port, metrics_port = _free_port(), _free_port(), _free_port()
    redis = subprocess.Popen(
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            *("--port", str(redis_port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
    spec = ProxyConfigSpec(
        models=(ModelSpec(name="m", model="openai/m", api_base=base, api_key_env="UPSTREAM_KEY"),),
    )
    spec = replace(
        spec,
        redis=RedisConnection(
            host="127.0.0.1", port=redis_port, tls=False, db=0, password_key=None
        ),
        prometheus=True,
    )
    config = work / "config.yaml"
    config.write_text(spec.render())
    (work / "prom").mkdir()
    env = {
        "PATH": f"{PROXY.parent}:/usr/bin:/bin",
        "HOME": str(work),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
        "LITELLM_LOCAL_BLOG_POSTS": "True",
        "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "UPSTREAM_KEY": "sk-upstream-fake",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prom"),
    }
    argv = [str(PROXY), "--config", str(config), "--port", str(port), "--host", "127.0.0.1"]
    argv += ["--num_workers", "2", "--prometheus_metrics_port", str(metrics_port)]
    log = (work / "proxy.log").open("wb")
    proxy = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or proxy.poll() is not None:
                    print((work / "proxy.log").read_text()[-3000:], file=sys.stderr)
                    return 1
                time.sleep(0.5)
        time.sleep(SETTLE_SECONDS)
        pids = {
            pid: _role(pid, proxy.pid, metrics_port) for pid in [proxy.pid, *_children(proxy.pid)]
        }

        def probes(seconds: float) -> None:
            """What reaches an idle pod: the kubelet's readiness (every 10 s) and liveness
            (every 15 s) probes and Prometheus's scrape (every 30 s), as prod's manifests say."""
            started = time.monotonic()
            due = {"/health/readiness": 0.0, "/health/liveliness": 0.0, "metrics": 0.0}
            every = {"/health/readiness": 10, "/health/liveliness": 15, "metrics": 30}
            while (now := time.monotonic() - started) < seconds:
                for path, at in due.items():
                    if now >= at:
                        url = (
                            f"http://127.0.0.1:{metrics_port}/metrics/"
                            if path == "metrics"
                            else f"http://127.0.0.1:{port}{path}"
                        )
                        urllib.request.urlopen(url, timeout=10).read()  # noqa: S310 - loopback
                        due[path] = at + every[path]
                time.sleep(0.2)

        idle = _sample(pids, IDLE_SECONDS, probes)
        sent = [0]

        def load(seconds: float) -> None:
            end = time.monotonic() + seconds
            next_at = time.monotonic()
            while time.monotonic() < end:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    data=json.dumps(
                        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
                    ).encode(),
                    headers={
                        "Content-Type": "application/json",
                        "Authorization": f"Bearer {MASTER_KEY}",
                    },
                )
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    response.read()
                sent[0] += 1
                next_at += 1 / LOAD_REQUESTS_PER_SECOND
                time.sleep(max(0.0, next_at - time.monotonic()))

        loaded = _sample(pids, LOAD_SECONDS, load)
        rate = sent[0] / LOAD_SECONDS
        print(
            f"idle {IDLE_SECONDS} s (probes and scrapes only), "
            f"then {sent[0]} requests in {LOAD_SECONDS} s ({rate:.1f}/s)"
        )
        print(f"{'pid':>8} {'role':<17} {'idle m':>8} {'load m':>8}")
        for pid, role in sorted(pids.items(), key=lambda item: item[1]):
            print(f"{pid:>8} {role:<17} {idle[pid]:>8.1f} {loaded[pid]:>8.1f}")
        total_idle, total_load = sum(idle.values()), sum(loaded.values())
        print(f"{'':>8} {'total':<17} {total_idle:>8.1f} {total_load:>8.1f}")
        print(f"CPU per request: {(total_load - total_idle) / rate:.1f} ms")
        return 0
    finally:
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proxy.kill()
        redis.terminate()
        redis.wait()
        upstream.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
