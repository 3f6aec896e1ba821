"""One Kubernetes NetworkPolicy, and the peers and ports its rules are made of.

Built as a ``cdk8s.ApiObject`` rather than cdk8s-plus's NetworkPolicy: cdk8s-plus derives
peers from constructs and adds policies of its own for each connection, while the policies here
are few, named, and must read exactly as written when reviewed in dist/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cdk8s
from constructs import Construct

Rule = Mapping[str, Any]
Peer = Mapping[str, Any]


def pods_peer(labels: Mapping[str, str]) -> Peer:
    """Pods of the policy's own namespace with ``labels``; an empty map means every pod."""
    return {"podSelector": {"matchLabels": dict(labels)} if labels else {}}


def namespace_peer(namespace: Mapping[str, str], pods: Mapping[str, str]) -> Peer:
    """Pods with ``pods`` labels (all when empty) in namespaces with ``namespace`` labels."""
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": dict(namespace)}}
    if pods:
        peer["podSelector"] = {"matchLabels": dict(pods)}
    return peer


def cidr_peer(cidr: str) -> Peer:
    return {"ipBlock": {"cidr": cidr}}


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


class NetworkPolicy(Construct):
    """A ``networking.k8s.io/v1`` NetworkPolicy for the pods with ``pod_labels``.

    ``ingress`` / ``egress``: the allowed rules, or None to leave that direction out of the
    policy (not isolated by it). An empty list isolates that direction: nothing is allowed.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        pod_labels: Mapping[str, str],
        ingress: Sequence[Rule] | None = None,
        egress: Sequence[Rule] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if ingress is None and egress is None:
            raise ValueError(f"NetworkPolicy '{name}' restricts nothing")
        spec: dict[str, Any] = {
            "podSelector": {"matchLabels": dict(pod_labels)} if pod_labels else {},
            "policyTypes": [
                kind
                for kind, rules in (("Ingress", ingress), ("Egress", egress))
                if rules is not None
            ],
        }
        if ingress is not None:
            spec["ingress"] = [dict(rule) for rule in ingress]
        if egress is not None:
            spec["egress"] = [dict(rule) for rule in egress]
        self.api_object = cdk8s.ApiObject(
            self,
            "resource",
            api_version="networking.k8s.io/v1",
            kind="NetworkPolicy",
            metadata=cdk8s.ApiObjectMetadata(name=name),
        )
        # The Python binding of ApiObject takes apiVersion, kind and metadata only.
        self.api_object.add_json_patch(cdk8s.JsonPatch.add("/spec", spec))
