"""What the pinned LiteLLM proxy needs at run time beyond its config: the paths it writes.

The container runs with a read-only root filesystem, so every path the proxy writes must be a
mounted ``emptyDir``, and the proxy is pointed at those mounts through variables where it lets
us. Measured, not guessed, on litellm[proxy]==1.106.2 and re-proved on 1.106.12, the pinned
release; change it together with the pinned image (docs/dependencies.md):

- by reading its source: ``tempfile`` probes and uses ``$TMPDIR`` (default ``/tmp``); the admin
  UI is copied at start into ``LITELLM_UI_PATH`` when that differs from the packaged copy, then
  rewritten in place for ``SERVER_ROOT_PATH`` (``proxy/proxy_server.py``); without a writable
  copy it logs "Cannot apply server_root_path replacements" and the UI's links miss the prefix.
- by running it: as uid 65534 in a private mount namespace with every mount read-only except
  these tmpfs mounts, traced with ``strace -f`` through boot, probes, ``/v1/models``, a chat
  request, ``/utils/token_counter``, ``/get_image`` and ``/ui``: the only writes are the
  ``tempfile`` probe in ``/tmp`` and the UI copy; no EROFS or EACCES anywhere (traced on 1.106.2;
  the code that writes, ``tempfile`` and the UI copy in ``proxy_server.py``, is unchanged in
  1.106.12). The end-to-end test (tests/test_litellm_e2e.py) keeps proving it on every run, on
  the pinned release.

Not needed by this deployment, so not mounted (each would fail loudly on the read-only root,
not silently): ``LITELLM_MIGRATION_DIR`` and Prisma's binary cache (only with ``DATABASE_URL``);
nothing is written under ``$HOME`` or ``$XDG_CACHE_HOME`` (tiktoken reads the tokenizers bundled
in the package). With metrics, ``PROMETHEUS_MULTIPROC_DIR`` gets an emptyDir of its own
(``lib.specs.metrics.MULTIPROC_MOUNT``); tests/test_scaling_e2e.py runs two replicas locked down
with it and checks the samples land there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# The numeric user of the litellm-non_root image ("nobody").
PROXY_UID = 65534
PROXY_GID = 65534


@dataclass(frozen=True)
class WritableMount:
    """One emptyDir the proxy writes to: volume name, mount path, size limit and why."""

    name: str
    path: str
    size_limit_mib: int
    why: str


TMP_MOUNT = WritableMount(
    name="tmp",
    path="/tmp",  # noqa: S108 - an emptyDir of the pod's own, not a shared host /tmp
    size_limit_mib=256,
    why="Python's tempfile: probed at start; uploaded files over 1 MiB spool here (starlette)",
)
UI_MOUNT = WritableMount(
    name="ui",
    path="/var/lib/litellm/ui",
    size_limit_mib=64,
    why="the admin UI (17 MiB) copied at start and rewritten for SERVER_ROOT_PATH",
)
WRITABLE_MOUNTS: tuple[WritableMount, ...] = (TMP_MOUNT, UI_MOUNT)

# Plain variables of every LiteLLM container: where its writes go (WRITABLE_MOUNTS), and what it
# must not fetch at start.
RUNTIME_ENV: Mapping[str, str] = MappingProxyType(
    {
        # Python's default already; set so an image with its own TMPDIR still writes to the mount.
        "TMPDIR": TMP_MOUNT.path,
        # A directory the proxy creates itself inside the mount: its copy ends by setting the
        # target's timestamps, which only the owner may do, and an emptyDir's root is root's.
        "LITELLM_UI_PATH": f"{UI_MOUNT.path}/served",
        # The model cost map bundled with the pinned release, instead of a fetch from
        # raw.githubusercontent.com at every boot (litellm/__init__.py imports it; the image's
        # `litellm` entrypoint is not one of the CLI names that skip the fetch): no start-up
        # dependency on GitHub, and prices that match the code that reads them.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
)


# Memory of the pinned proxy, by process: idle RSS in the prod layout (`--num_workers 2` with
# `--prometheus_metrics_port`), measured on 1.106.12 in two runs: the uvicorn supervisor
# 303-320 MiB, each spawned worker 317-326 MiB, the metrics server 186-193 MiB,
# multiprocessing's resource tracker 11 MiB, 1.14-1.17 GiB in all; 1.106.2 run beside it differs
# by 2 MiB per process at most. A single-process proxy: 321 MiB. So the three proxy processes
# (942-964 MiB together) are 3 x PROXY_PROCESS_IDLE_MIB within 0.5%, and the metrics server with
# the tracker (197-204 MiB) METRICS_PROCESS_MIB within 2%. A process that serves requests also
# holds their bodies (read into memory, up to the ingress's body limit), responses and
# per-process caches on top of that.
PROXY_PROCESS_IDLE_MIB = 320
SERVING_HEADROOM_MIB = 192
METRICS_PROCESS_MIB = 200
# How far each serving process may grow past the request before the kernel kills the pod:
# caches and request bodies are per process, and the proxy's memory does not fall back.
SERVING_GROWTH_MIB = 1536


@dataclass(frozen=True)
class MemoryBudget:
    """The LiteLLM container's memory request and limit, in MiB."""

    request_mib: int
    limit_mib: int


def memory_budget(*, workers: int, metrics: bool) -> MemoryBudget:
    """Sized from the process layout, not one number for every layout.

    One worker runs in a single process (no supervisor). More workers run as a uvicorn
    supervisor plus ``workers`` spawned processes, each a full proxy. With metrics, the separate
    metrics server is one process more. Serving processes get room for requests in flight in
    the request, and room to grow in the limit. The single-process pod keeps 512Mi / 2048Mi.
    """
    serving = workers
    supervisor = 1 if workers > 1 else 0
    request = (
        (serving + supervisor) * PROXY_PROCESS_IDLE_MIB
        + serving * SERVING_HEADROOM_MIB
        + (METRICS_PROCESS_MIB if metrics else 0)
    )
    return MemoryBudget(request_mib=request, limit_mib=request + serving * SERVING_GROWTH_MIB)


# uvicorn's own keep-alive (uvicorn.Config timeout_keep_alive=5), which LiteLLM 1.106.2 changes
# only with `--keepalive_timeout` (proxy_cli.py passes it on as timeout_keep_alive).
# tests/test_shutdown_keepalive_e2e.py shows a connection idle longer than this is closed by a
# proxy without the flag.
UVICORN_DEFAULT_KEEPALIVE_SECONDS = 5
KEEPALIVE_FLAG = "--keepalive_timeout"


def keepalive_timeout_seconds(upstream_idle_seconds: int) -> int:
    """How long the proxy keeps an idle connection open: longer than whatever forwards to it.

    The ingress or gateway reuses an idle connection until its own idle timeout
    (``upstream_idle_seconds``); if the proxy closed it first, a request sent just then gets a
    502, and a POST is not retried. The margin (uvicorn's own default, 5 s) covers the two idle
    timers starting at different moments: uvicorn's when it has sent a response, the
    forwarder's when it has read it.
    """
    return upstream_idle_seconds + UVICORN_DEFAULT_KEEPALIVE_SECONDS


# CPU of the pinned proxy, by process: measured on 1.106.2 (PyPI) in prod's layout
# (`--num_workers 2`, `--prometheus_metrics_port`, Redis coordination, Prometheus callback) with
# benchmarks/proxy_cpu.py, as /proc utime+stime over 60 s windows after the boot settled, so the
# load of the machine's other processes does not count. Idle with the kubelet's probes (readiness
# every 10 s, liveness every 15 s) and a scrape every 30 s: supervisor 1.3m, workers 1.8m and
# 5.5m (the one that took the probes), metrics server 1.7m; 10.3m for the pod (6.3m without
# probes). At 5 chat completions/s against an upstream that answers at once: 125m for the pod,
# 22.9 ms of CPU per request (21.6 ms in a first run), all of it in the workers. Each figure is
# rounded up. Re-measure after a LiteLLM upgrade: `.venv/bin/python -m benchmarks.proxy_cpu`.
SUPERVISOR_IDLE_MILLICPU = 2
WORKER_IDLE_MILLICPU = 4
METRICS_IDLE_MILLICPU = 2
PROXY_CPU_MS_PER_REQUEST = 23
# A uvicorn worker is one event loop on one thread (the GIL): it can use at most one core, and
# its queueing delay climbs steeply once it is busier than about half the time. Each worker is
# sized for half a core of serving; the autoscaler's target is a share of that.
WORKER_SATURATION_MILLICPU = 1000
WORKER_SERVING_MILLICPU = WORKER_SATURATION_MILLICPU // 2


def idle_millicpu(*, workers: int, metrics: bool) -> int:
    """What the pod's processes use with no traffic (probes and scrapes only)."""
    supervisor = SUPERVISOR_IDLE_MILLICPU if workers > 1 else 0
    return supervisor + workers * WORKER_IDLE_MILLICPU + (METRICS_IDLE_MILLICPU if metrics else 0)


def cpu_request_millis(*, workers: int, metrics: bool) -> int:
    """The LiteLLM container's CPU request, from the process layout (as ``memory_budget``):
    every process idle, plus half a core of serving per worker. No CPU limit (see
    ``lib.constructs.workload.resources``). An autoscaler's target is then a share of real
    serving capacity: the idle processes are about 1% of it, so it fires on requests, not on
    the pod's own upkeep."""
    return idle_millicpu(workers=workers, metrics=metrics) + workers * WORKER_SERVING_MILLICPU
