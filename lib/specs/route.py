"""How traffic reaches the proxy: an ingress-nginx Ingress (the default) or a Gateway API
``HTTPRoute`` to a ``Gateway`` of the cluster, and how long each keeps idle connections to the
proxy open (the proxy must keep them longer, or a request sent on a connection the proxy is
closing gets a 502: see ``lib.litellm_runtime.keepalive_timeout_seconds``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lib.errors import SynthError
from lib.names import is_dns_label
from lib.specs.network import NAMESPACE_NAME_LABEL, check_labels

# ingress-nginx's `upstream-keepalive-timeout` (its ConfigMap; default "60"): how long it keeps an
# idle connection to a backend open for the next request.
INGRESS_NGINX_UPSTREAM_KEEPALIVE_SECONDS = 60
# Envoy's idle timeout of upstream connections when nothing sets it (cluster
# `common_http_protocol_options.idle_timeout`: "defaults to 1 hour"). Envoy Gateway, Istio and
# Cilium serve Gateway API routes with Envoy; NGINX Gateway Fabric (nginx: 60 s), Traefik
# (`idleConnTimeout` 90 s) and Kong (`upstream_keepalive_idle_timeout` 60 s) keep them shorter.
# The longest of the common implementations is assumed, so the default is safe for each.
ENVOY_UPSTREAM_IDLE_TIMEOUT_SECONDS = 3600


def _labels(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class GatewayRouteSpec:
    """Serve the proxy through a Gateway API ``HTTPRoute`` (gateway.networking.k8s.io/v1)
    attached to an existing ``Gateway``, instead of an ingress-nginx Ingress.

    ``gateway_name`` / ``gateway_namespace``: the ``Gateway`` (its ``parentRefs`` entry).
    ``section_name``: its listener to attach to (None: every listener that allows the route).
    ``upstream_idle_timeout_seconds``: how long the gateway's data plane keeps an idle
    connection to the proxy (default: Envoy's 1 hour, the longest of the common
    implementations; set your implementation's value). ``data_plane_namespace`` /
    ``data_plane_pods``: labels of the namespace and pods of the gateway's proxies (its data
    plane), which the NetworkPolicy admits to the proxy's port (default: every pod of the
    Gateway's namespace, where Envoy Gateway in its namespaced mode, Istio and NGINX Gateway
    Fabric run them; Envoy Gateway's default runs them in ``envoy-gateway-system``).
    """

    gateway_name: str
    gateway_namespace: str
    section_name: str | None = None
    upstream_idle_timeout_seconds: int = ENVOY_UPSTREAM_IDLE_TIMEOUT_SECONDS
    data_plane_namespace: Mapping[str, str] = field(default_factory=lambda: _labels({}))
    data_plane_pods: Mapping[str, str] = field(default_factory=lambda: _labels({}))

    def __post_init__(self) -> None:
        for what, name in (
            ("gateway_name", self.gateway_name),
            ("gateway_namespace", self.gateway_namespace),
            ("section_name", self.section_name),
        ):
            if name is not None and not is_dns_label(name):
                raise SynthError(
                    f"gateway route {what} '{name}' is not a DNS-1123 label (lowercase letters, "
                    "digits and '-', at most 63)"
                )
        idle = self.upstream_idle_timeout_seconds
        if isinstance(idle, bool) or not (isinstance(idle, int) and idle >= 1):
            raise SynthError(
                f"gateway route upstream_idle_timeout_seconds {idle!r} must be a whole number "
                "of seconds >= 1: your gateway's idle timeout of connections to backends"
            )
        if not self.data_plane_namespace:
            object.__setattr__(
                self,
                "data_plane_namespace",
                _labels({NAMESPACE_NAME_LABEL: self.gateway_namespace}),
            )
        check_labels(self.data_plane_namespace, "gateway route data_plane_namespace")
        check_labels(self.data_plane_pods, "gateway route data_plane_pods")
