"""How Prometheus scrapes the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lib.errors import SynthError
from lib.litellm_runtime import WritableMount
from lib.specs.field_types import check_field_types
from lib.specs.network import NAMESPACE_NAME_LABEL, check_labels

# Where the proxy's own metrics process serves; /metrics answers with a redirect to /metrics/
# in LiteLLM 1.106.12 (a mounted app), so the scrape path names the final URL.
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
    ``release: kube-prometheus-stack``); required with ``service_monitor`` (checked per
    environment), as an unlabelled ServiceMonitor is never scraped.

    The namespace denies ingress by default; the metrics port is opened to Prometheus only:
    pods with ``scraper_pods`` labels (every pod when empty) in the namespaces with
    ``scraper_namespace`` labels (default: the namespace named ``monitoring``). Nothing else
    reaches it, and the proxy's own port keeps ``/metrics`` behind the master key.
    """

    port: int = METRICS_PORT
    service_monitor: bool = True
    scrape_interval: str = "30s"
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    scraper_namespace: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({NAMESPACE_NAME_LABEL: "monitoring"})
    )
    scraper_pods: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        check_field_types(self, "MetricsSpec ")
        if not self.scraper_namespace:
            raise SynthError(
                "metrics scraper_namespace is empty, which would open the metrics port to every "
                f"namespace: give its labels, e.g. {{'{NAMESPACE_NAME_LABEL}': 'monitoring'}}"
            )
        check_labels(self.scraper_namespace, "metrics scraper_namespace")
        check_labels(self.scraper_pods, "metrics scraper_pods")
        check_labels(self.service_monitor_labels, "metrics service_monitor_labels")

    def check(self, where: str) -> None:
        """Refuse a port clash and a ServiceMonitor no Prometheus would select."""
        if not 1 <= self.port <= 65535 or self.port == 4000:
            raise SynthError(
                f"{where}: metrics port {self.port} must be in 1-65535 and differ from the "
                "proxy's port 4000"
            )
        if self.service_monitor and not self.service_monitor_labels:
            # prometheus-operator picks ServiceMonitors by label (kube-prometheus-stack's default
            # serviceMonitorSelector is `release: <its release name>`): an unlabelled one is
            # applied, accepted and never scraped, with no error anywhere.
            raise SynthError(
                f"{where}: metrics service_monitor has no service_monitor_labels, so no "
                "Prometheus selects it: set the labels your Prometheus's serviceMonitorSelector "
                "matches (kube-prometheus-stack: {'release': '<its release name>'}, e.g. "
                "{'release': 'kube-prometheus-stack'}), or service_monitor=False"
            )
