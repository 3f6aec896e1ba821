"""Who may talk to whom: the settings the NetworkPolicies are built from."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lib.errors import SynthError
from lib.specs.field_types import check_field_types

# Kubernetes sets this label on every namespace (since 1.21) to the namespace's own name.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Label keys: an optional DNS-subdomain prefix and a name of at most 63 characters.
_LABEL_KEY = re.compile(
    r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def _labels(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


def check_labels(labels: Mapping[str, str], what: str) -> None:
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            raise SynthError(f"{what}: '{key}: {value}' is not a valid Kubernetes label")


@dataclass(frozen=True)
class AppIngress:
    """Who may open connections to an app's port. The default is nobody.

    ``from_ingress_controller``: the ingress controller's pods (see ``NetworkSpec``), for an
    app that has its own Ingress route. ``from_gateway``: the LiteLLM pods (for example an
    app that serves a callback). ``from_apps``: other apps of the environment, by name.
    """

    from_ingress_controller: bool = False
    from_gateway: bool = False
    from_apps: tuple[str, ...] = ()

    @property
    def anyone(self) -> bool:
        return self.from_ingress_controller or self.from_gateway or bool(self.from_apps)


@dataclass(frozen=True)
class NetworkSpec:
    """The environment's network isolation.

    Ingress is always isolated: a default-deny policy for the namespace, LiteLLM open on its
    port to the ingress controller and to the environment's apps, each app open to what its
    ``AppIngress`` allows. The ingress controller is found by the labels of its namespace
    (``ingress_controller_namespace``, default: the namespace named ``ingress-nginx``) and,
    optionally, of its pods (``ingress_controller_pods``).

    Egress is open unless ``restrict_gateway_egress``: then LiteLLM may reach DNS (the
    ``kube-dns`` pods of ``kube-system``, selected by ``dns_namespace`` and ``dns_pods``, and
    the addresses in ``dns_cidrs``), pods of its own namespace, and TCP 443 plus the ports of
    the models' ``api_base`` URLs at ``egress_cidrs``. Apps' egress stays open: what an app
    calls is the app's business.

    ``egress_cidrs`` defaults to every address of both families (``0.0.0.0/0`` and ``::/0``):
    on a dual-stack cluster a provider's IPv6 addresses are reached too, where an IPv4-only
    rule would drop them silently.

    ``dns_cidrs``: DNS servers that are no pod a selector can match, on port 53: NodeLocal
    DNSCache's link-local address (``169.254.20.10/32``) or a resolver outside the cluster.

    ``trusted_proxy_cidrs``: the addresses of the pods that forward clients' requests to the
    proxy (the ingress controller's or the gateway's data plane). Only a connection from one of
    them may tell the client's address in ``X-Forwarded-For``; the proxy then sees, logs and
    throttles the client, not the ingress (uvicorn's ``FORWARDED_ALLOW_IPS``, see
    docs/production-hardening.md). Empty: the proxy trusts only its own loopback and sees the
    forwarding pod's address. Never ``/0``: anyone could then claim any address.
    """

    ingress_controller_namespace: Mapping[str, str] = field(
        default_factory=lambda: _labels({NAMESPACE_NAME_LABEL: "ingress-nginx"})
    )
    ingress_controller_pods: Mapping[str, str] = field(default_factory=lambda: _labels({}))
    restrict_gateway_egress: bool = False
    egress_cidrs: tuple[str, ...] = ("0.0.0.0/0", "::/0")
    dns_namespace: Mapping[str, str] = field(
        default_factory=lambda: _labels({NAMESPACE_NAME_LABEL: "kube-system"})
    )
    dns_pods: Mapping[str, str] = field(default_factory=lambda: _labels({"k8s-app": "kube-dns"}))
    dns_cidrs: tuple[str, ...] = ()
    trusted_proxy_cidrs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_field_types(self, "NetworkSpec ")
        if not self.ingress_controller_namespace:
            raise SynthError(
                "network ingress_controller_namespace is empty, which would select every "
                f"namespace: give its labels, e.g. {{'{NAMESPACE_NAME_LABEL}': 'ingress-nginx'}}"
            )
        for what, labels in (
            ("network ingress_controller_namespace", self.ingress_controller_namespace),
            ("network ingress_controller_pods", self.ingress_controller_pods),
            ("network dns_namespace", self.dns_namespace),
            ("network dns_pods", self.dns_pods),
        ):
            check_labels(labels, what)
        for what, cidrs in (
            ("egress_cidrs", self.egress_cidrs),
            ("dns_cidrs", self.dns_cidrs),
            ("trusted_proxy_cidrs", self.trusted_proxy_cidrs),
        ):
            for cidr in cidrs:
                try:
                    network = ipaddress.ip_network(cidr)
                except ValueError:
                    raise SynthError(
                        f"network {what} entry '{cidr}' is not a CIDR block such as "
                        "'0.0.0.0/0' or '203.0.113.0/24'"
                    ) from None
                if what == "trusted_proxy_cidrs" and network.prefixlen == 0:
                    raise SynthError(
                        f"network trusted_proxy_cidrs entry '{cidr}' trusts every address, so "
                        "any client could claim any address in X-Forwarded-For: list the "
                        "addresses of your ingress controller's or gateway's pods"
                    )
        if self.restrict_gateway_egress and not self.egress_cidrs:
            raise SynthError(
                "network restrict_gateway_egress with no egress_cidrs would cut LiteLLM off "
                "from every model provider: list the CIDR blocks it may reach"
            )
