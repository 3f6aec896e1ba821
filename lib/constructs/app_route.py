"""The Ingress that publishes one app at its route (``AppRoute``): a path on a host."""

from __future__ import annotations

from dataclasses import dataclass

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct


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
