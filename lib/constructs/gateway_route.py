"""The Gateway API HTTPRoute that puts LiteLLM under /litellm on the environment's host.

The portable successor of the ingress-nginx Ingress (ingress-nginx was retired in March 2026):
the same routing in standard fields that every conforming implementation reads, without a
regex or an implementation's annotations. See docs/gateway-api.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.environments import LITELLM_PATH_PREFIX as PATH_PREFIX
from lib.specs.route import GatewayRouteSpec

API_VERSION = "gateway.networking.k8s.io/v1"
KIND = "HTTPRoute"
# A Gateway API Duration: 1 to 4 groups of at most 5 digits and a unit (h, m, s, ms).
_MAX_DURATION_DIGITS = 99999


@dataclass(frozen=True)
class GatewayRouteProps:
    """``host``: the public host (the route's only hostname). ``service``: the LiteLLM Service,
    reached on ``service_port`` (never the metrics port, which stays in-cluster).
    ``route``: the Gateway to attach to. ``strip_prefix``: rewrite ``/litellm/x`` to ``/x``
    (``REWRITE`` mode) or pass it on unchanged (``ROOT_PATH`` mode).
    ``timeout_seconds``: how long the gateway waits for the proxy's answer: the worst case of
    the router settings, so a request LiteLLM is still retrying or falling back is never cut.
    """

    host: str
    service: kplus.Service
    route: GatewayRouteSpec
    strip_prefix: bool
    timeout_seconds: int
    name: str = "litellm"
    service_port: int = 4000


class GatewayRoute(Construct):
    """One ``HTTPRoute`` rule: ``PathPrefix /litellm`` on the host, to the LiteLLM Service.

    - ``REWRITE``: a ``URLRewrite`` filter with ``ReplacePrefixMatch`` ``/``, so
      ``/litellm/v1/chat/completions`` reaches the proxy as ``/v1/chat/completions``
      (a path prefix matches whole segments: ``/litellmx`` is not routed).
    - ``ROOT_PATH``: no filter; the proxy knows its root path (``SERVER_ROOT_PATH``).
    - ``timeouts.request`` (the whole request, the gateway's own retries included) and
      ``timeouts.backendRequest`` (one try to the proxy) are both the router's worst case: the
      gateway's defaults (Envoy's: 15 s) would cut answers LiteLLM is still producing.

    The body size limit has no standard field; each implementation sets it its own way
    (docs/gateway-api.md).
    """

    def __init__(self, scope: Construct, construct_id: str, props: GatewayRouteProps) -> None:
        super().__init__(scope, construct_id)
        parent: dict[str, Any] = {
            "name": props.route.gateway_name,
            "namespace": props.route.gateway_namespace,
        }
        if props.route.section_name is not None:
            parent["sectionName"] = props.route.section_name
        timeout = duration(props.timeout_seconds)
        rule: dict[str, Any] = {
            "matches": [{"path": {"type": "PathPrefix", "value": PATH_PREFIX}}],
        }
        if props.strip_prefix:
            rule["filters"] = [
                {
                    "type": "URLRewrite",
                    "urlRewrite": {
                        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}
                    },
                }
            ]
        rule["backendRefs"] = [
            {"name": props.service.name, "port": props.service_port},
        ]
        rule["timeouts"] = {"request": timeout, "backendRequest": timeout}
        self.api_object = cdk8s.ApiObject(
            self,
            "resource",
            api_version=API_VERSION,
            kind=KIND,
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name, labels={"app.kubernetes.io/name": props.name}
            ),
        )
        # The Python binding of ApiObject takes no spec: it goes in as a JSON patch.
        self.api_object.add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {"parentRefs": [parent], "hostnames": [props.host], "rules": [rule]},
            )
        )


def duration(seconds: int) -> str:
    """``seconds`` as a Gateway API Duration (``794s``; past 99999 s in hours, minutes and
    seconds, as the format allows at most 5 digits per unit)."""
    if seconds < 1:
        raise ValueError(f"a route timeout of {seconds} s")
    if seconds <= _MAX_DURATION_DIGITS:
        return f"{seconds}s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h" + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
