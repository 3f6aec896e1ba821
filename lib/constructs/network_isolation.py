"""The NetworkPolicies of one environment: who may reach LiteLLM, its Valkey, its metrics port
and each app, and (optionally) what LiteLLM may reach."""

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


@dataclass(frozen=True)
class Forwarder:
    """The pods that forward clients' requests to the namespace (the ingress controller, or a
    Gateway's data plane): pods with ``pods`` labels (every pod when empty) in the namespaces
    with ``namespace`` labels."""

    namespace: Mapping[str, str]
    pods: Mapping[str, str]


@dataclass(frozen=True)
class Scraper:
    """Who may reach the gateway's metrics ``port``: pods with ``pods`` labels (every pod when
    empty) in the namespaces with ``namespace`` labels."""

    port: int
    namespace: Mapping[str, str]
    pods: Mapping[str, str]


@dataclass(frozen=True)
class RedisEgress:
    """A Redis (or Postgres) outside the namespace that LiteLLM must reach on ``port``: on the
    pods of the namespaces with ``namespace`` labels, or (``None``) at the network's
    ``egress_cidrs``."""

    port: int
    namespace: Mapping[str, str] | None


class NetworkIsolation(Construct):
    """Default-deny ingress for the namespace, then one allow policy per workload.

    - ``default-deny``: every pod of the namespace refuses connections not allowed below.
    - ``<gateway>-ingress``: LiteLLM's port is open to the ``forwarder`` (the ingress controller
      of the spec, or the Gateway's data plane) and to the pods of ``gateway_clients`` (the apps
      with gateway access, the key reconciler), no other app.
    - ``<app>-ingress``: an app's port is open to what its ``AppIngress`` names (no policy,
      and so no ingress, when it names nothing).
    - ``<valkey>-ingress`` (with an in-cluster ``valkey``): its port is open to the LiteLLM pods
      only.
    - ``<postgres>-ingress`` (with an in-cluster ``postgres``): its port is open to the LiteLLM
      pods and the pods of ``postgres_clients`` (the migration Job) only.
    - ``<gateway>-metrics-ingress`` (with a ``scraper``): the metrics port is open to the
      monitoring namespace's pods only.
    - ``<gateway>-egress`` (only with ``restrict_gateway_egress``): LiteLLM may reach DNS, pods
      of its namespace (whose own ingress policies then decide, the in-cluster Valkey's
      included), ``egress_ports`` at the spec's CIDR blocks, and an existing Redis
      (``redis_egress``) and an existing Postgres (``database_egress``) on their ports: in their
      namespaces, or at the CIDR blocks.

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
        forwarder: Forwarder | None = None,
        gateway_egress_ports: Sequence[int] = (HTTPS_PORT,),
        valkey: IsolatedWorkload | None = None,
        scraper: Scraper | None = None,
        redis_egress: RedisEgress | None = None,
        gateway_clients: Sequence[Mapping[str, str]] = (),
        postgres: IsolatedWorkload | None = None,
        postgres_clients: Sequence[Mapping[str, str]] = (),
        database_egress: RedisEgress | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if forwarder is None:
            forwarder = Forwarder(spec.ingress_controller_namespace, spec.ingress_controller_pods)
        controller = namespace_peer(forwarder.namespace, forwarder.pods)
        NetworkPolicy(self, "default-deny", name="default-deny", pod_labels={}, ingress=[])
        NetworkPolicy(
            self,
            f"{gateway.name}-ingress",
            name=f"{gateway.name}-ingress",
            pod_labels=gateway.pod_labels,
            ingress=[
                {
                    "from": [controller, *(pods_peer(labels) for labels in gateway_clients)],
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
        if valkey is not None:
            NetworkPolicy(
                self,
                f"{valkey.name}-ingress",
                name=f"{valkey.name}-ingress",
                pod_labels=valkey.pod_labels,
                ingress=[{"from": [pods_peer(gateway.pod_labels)], "ports": tcp(valkey.port)}],
            )
        if postgres is not None:
            NetworkPolicy(
                self,
                f"{postgres.name}-ingress",
                name=f"{postgres.name}-ingress",
                pod_labels=postgres.pod_labels,
                ingress=[
                    {
                        "from": [
                            pods_peer(gateway.pod_labels),
                            *(pods_peer(labels) for labels in postgres_clients),
                        ],
                        "ports": tcp(postgres.port),
                    }
                ],
            )
        if scraper is not None:
            NetworkPolicy(
                self,
                f"{gateway.name}-metrics-ingress",
                name=f"{gateway.name}-metrics-ingress",
                pod_labels=gateway.pod_labels,
                ingress=[
                    {
                        "from": [namespace_peer(scraper.namespace, scraper.pods)],
                        "ports": tcp(scraper.port),
                    }
                ],
            )
        if spec.restrict_gateway_egress:
            NetworkPolicy(
                self,
                f"{gateway.name}-egress",
                name=f"{gateway.name}-egress",
                pod_labels=gateway.pod_labels,
                egress=_gateway_egress(
                    spec,
                    gateway_egress_ports,
                    [e for e in (redis_egress, database_egress) if e is not None],
                ),
            )


def _gateway_egress(
    spec: NetworkSpec, ports: Sequence[int], services: Sequence[RedisEgress]
) -> list[Rule]:
    cidr_ports = {*ports}
    redis_rules: list[Rule] = []
    for service in services:
        if service.namespace is None:
            cidr_ports.add(service.port)
        else:
            redis_rules.append(
                {"to": [namespace_peer(service.namespace, {})], "ports": tcp(service.port)}
            )
    return [
        {
            "to": [
                namespace_peer(spec.dns_namespace, spec.dns_pods),
                *(cidr_peer(cidr) for cidr in spec.dns_cidrs),
            ],
            "ports": [
                {"protocol": "UDP", "port": DNS_PORT},
                {"protocol": "TCP", "port": DNS_PORT},
            ],
        },
        {"to": [pods_peer({})]},
        *redis_rules,
        {"to": [cidr_peer(cidr) for cidr in spec.egress_cidrs], "ports": tcp(*sorted(cidr_ports))},
    ]
