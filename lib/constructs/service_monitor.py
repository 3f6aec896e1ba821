"""A prometheus-operator ServiceMonitor: how Prometheus finds and scrapes a Service's pods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

API_VERSION = "monitoring.coreos.com/v1"


@dataclass(frozen=True)
class ServiceMonitorProps:
    """``service``: the Service whose endpoints are scraped, selected by ``selector`` (labels the
    Service carries). ``port``: the Service port's name. ``path``/``interval``: the scrape.
    ``labels``: the ServiceMonitor's own labels, which Prometheus selects it by."""

    name: str
    service: kplus.Service
    selector: Mapping[str, str]
    port: str
    path: str
    interval: str
    labels: Mapping[str, str] = field(default_factory=dict)


class ServiceMonitor(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: ServiceMonitorProps) -> None:
        super().__init__(scope, construct_id)
        for key, value in props.selector.items():
            props.service.metadata.add_label(key, value)
        self.api_object = cdk8s.ApiObject(
            self,
            "resource",
            api_version=API_VERSION,
            kind="ServiceMonitor",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=dict(props.labels)),
        )
        # The Python binding of ApiObject takes no spec: it goes in as a JSON patch.
        spec = {
            "selector": {"matchLabels": dict(props.selector)},
            "endpoints": [
                {
                    "port": props.port,
                    "path": props.path,
                    "interval": props.interval,
                    "scheme": "http",
                }
            ],
        }
        self.api_object.add_json_patch(cdk8s.JsonPatch.add("/spec", spec))
