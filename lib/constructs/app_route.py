"""What publishes one app at its route (``AppRoute``, a path on a host): an Ingress on the
environment's ingress controller, or an HTTPRoute on its Gateway when the environment is served
through the Gateway API (``Environment.gateway_route``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.constructs.gateway_route import API_VERSION, KIND
from lib.specs.route import GatewayRouteSpec


@dataclass(frozen=True)
class AppRouteProps:
    """``name``: the Ingress's name (the app's). ``host`` and ``path``: where it is published
    (``path`` a prefix, passed on unchanged). ``service``/``port``: the app's Service.
    ``ingress_class``: the IngressClass. ``tls_secret_name``: the certificate Secret for
    ``host``, or None for plain HTTP."""

    name: str
    host: str
    path: str
    service: kplus.Service
    port: int
    ingress_class: str
    tls_secret_name: str | None


class AppRouteIngress(Construct):
    """One Ingress per published app, so an app's route never changes the gateway's Ingress
    (its rewrite annotations apply to the gateway's path only)."""

    def __init__(self, scope: Construct, construct_id: str, props: AppRouteProps) -> None:
        super().__init__(scope, construct_id)
        tls = (
            [
                kplus.IngressTls(
                    hosts=[props.host],
                    secret=kplus.Secret.from_secret_name(self, "tls-secret", props.tls_secret_name),
                )
            ]
            if props.tls_secret_name
            else None
        )
        self.ingress = kplus.Ingress(
            self,
            "ingress",
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name, labels={"app.kubernetes.io/name": props.name}
            ),
            class_name=props.ingress_class,
            tls=tls,
        )
        self.ingress.add_host_rule(
            props.host,
            props.path,
            kplus.IngressBackend.from_service(props.service, port=props.port),
            kplus.HttpIngressPathType.PREFIX,
        )


@dataclass(frozen=True)
class AppHttpRouteProps:
    """``name``: the HTTPRoute's name (the app's). ``host``/``path``: where it is published.
    ``service``/``port``: the app's Service. ``gateway``: the Gateway and listener the
    environment's own route attaches to (it holds the certificate)."""

    name: str
    host: str
    path: str
    service: kplus.Service
    port: int
    gateway: GatewayRouteSpec


class AppHttpRoute(Construct):
    """One HTTPRoute rule, ``PathPrefix`` ``path`` on ``host``, to the app's Service; the
    Gateway API counterpart of ``AppRouteIngress``."""

    def __init__(self, scope: Construct, construct_id: str, props: AppHttpRouteProps) -> None:
        super().__init__(scope, construct_id)
        parent: dict[str, Any] = {
            "name": props.gateway.gateway_name,
            "namespace": props.gateway.gateway_namespace,
        }
        if props.gateway.section_name is not None:
            parent["sectionName"] = props.gateway.section_name
        self.api_object = cdk8s.ApiObject(
            self,
            "resource",
            api_version=API_VERSION,
            kind=KIND,
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name, labels={"app.kubernetes.io/name": props.name}
            ),
        )
        rule = {
            "matches": [{"path": {"type": "PathPrefix", "value": props.path}}],
            "backendRefs": [{"name": props.service.name, "port": props.port}],
        }
        # The Python binding of ApiObject takes no spec: it goes in as a JSON patch.
        self.api_object.add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec", {"parentRefs": [parent], "hostnames": [props.host], "rules": [rule]}
            )
        )
