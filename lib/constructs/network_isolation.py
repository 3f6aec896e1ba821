"""The NetworkPolicies of one environment: who may reach LiteLLM and each app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from constructs import Construct

from lib.constructs.network_policy import (
    NetworkPolicy,
    Rule,
    cidr_peer,
    namespace_peer,
    pods_peer,
    tcp,
)
from lib.specs.network import AppIngress, NetworkSpec

DNS_PORT = 53
HTTPS_PORT = 443


@dataclass(frozen=True)
class IsolatedWorkload:
    """A workload's name, the labels of its pods and the port it serves."""

    name: str
    pod_labels: Mapping[str, str]
    port: int


class NetworkIsolation(Construct):
    """Default-deny ingress for the namespace, then one allow policy per workload.

    - ``default-deny``: every pod of the namespace refuses connections not allowed below.
    - ``<gateway>-ingress``: LiteLLM's port is open to the ingress controller and to every app.
    - ``<app>-ingress``: an app's port is open to what its ``AppIngress`` names (no policy,
      and so no ingress, when it names nothing).
    - ``<gateway>-egress`` (only with ``restrict_gateway_egress``): LiteLLM may reach DNS, pods
      of its namespace (whose own ingress policies then decide) and ``egress_ports`` at the
      spec's CIDR blocks.

    The kubelet's probes are not subject to NetworkPolicy: traffic from a pod's own node is
    always allowed.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: NetworkSpec,
        gateway: IsolatedWorkload,
        apps: Sequence[tuple[IsolatedWorkload, AppIngress]],
        gateway_egress_ports: Sequence[int] = (HTTPS_PORT,),
    ) -> None:
        super().__init__(scope, construct_id)
        controller = namespace_peer(spec.ingress_controller_namespace, spec.ingress_controller_pods)
        NetworkPolicy(self, "default-deny", name="default-deny", pod_labels={}, ingress=[])
        NetworkPolicy(
            self,
            f"{gateway.name}-ingress",
            name=f"{gateway.name}-ingress",
            pod_labels=gateway.pod_labels,
            ingress=[
                {
                    "from": [controller, *(pods_peer(app.pod_labels) for app, _ in apps)],
                    "ports": tcp(gateway.port),
                }
            ],
        )
        by_name = {app.name: app for app, _ in apps}
        for app, allowed in apps:
            if not allowed.anyone:
                continue
            peers = [
                *([controller] if allowed.from_ingress_controller else []),
                *([pods_peer(gateway.pod_labels)] if allowed.from_gateway else []),
                *(pods_peer(by_name[name].pod_labels) for name in allowed.from_apps),
            ]
            NetworkPolicy(
                self,
                f"{app.name}-ingress",
                name=f"{app.name}-ingress",
                pod_labels=app.pod_labels,
                ingress=[{"from": peers, "ports": tcp(app.port)}],
            )
        if spec.restrict_gateway_egress:
            NetworkPolicy(
                self,
                f"{gateway.name}-egress",
                name=f"{gateway.name}-egress",
                pod_labels=gateway.pod_labels,
                egress=_gateway_egress(spec, sorted(set(gateway_egress_ports))),
            )


def _gateway_egress(spec: NetworkSpec, ports: Sequence[int]) -> list[Rule]:
    return [
        {
            "to": [namespace_peer(spec.dns_namespace, spec.dns_pods)],
            "ports": [
                {"protocol": "UDP", "port": DNS_PORT},
                {"protocol": "TCP", "port": DNS_PORT},
            ],
        },
        {"to": [pods_peer({})]},
        {"to": [cidr_peer(cidr) for cidr in spec.egress_cidrs], "ports": tcp(*ports)},
    ]
