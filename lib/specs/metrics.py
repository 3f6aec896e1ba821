"""How Prometheus scrapes the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lib.litellm_runtime import WritableMount

# Where the proxy's own metrics process serves; /metrics answers with a redirect to /metrics/
# in LiteLLM 1.106.2 (a mounted app), so the scrape path names the final URL.
METRICS_PORT = 9090
METRICS_PATH = "/metrics/"
# The per-process sample files the metrics process aggregates (a writable emptyDir).
MULTIPROC_DIR = "/var/run/litellm-prometheus"
# LiteLLM wipes this directory at start and every worker writes its sample files into it.
MULTIPROC_MOUNT = WritableMount(
    name="prometheus-multiproc",
    path=MULTIPROC_DIR,
    size_limit_mib=64,
    why="Prometheus samples of every worker, read by the metrics process",
)


@dataclass(frozen=True)
class MetricsSpec:
    """The proxy's Prometheus callback, served on its own port that needs no master key.

    ``port``: the separate metrics port (LiteLLM's ``--prometheus_metrics_port``), reachable
    in the cluster only: the Ingress never routes to it. ``service_monitor``: emit a
    prometheus-operator ServiceMonitor for it. ``scrape_interval``: how often Prometheus scrapes.
    ``service_monitor_labels``: labels your Prometheus selects ServiceMonitors by (e.g.
    ``release: kube-prometheus-stack``).
    """

    port: int = METRICS_PORT
    service_monitor: bool = True
    scrape_interval: str = "30s"
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
