"""The Ingress that puts LiteLLM under /litellm on the environment's host."""

from __future__ import annotations

from dataclasses import dataclass

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.environments import LITELLM_PATH_PREFIX as PATH_PREFIX


@dataclass(frozen=True)
class GatewayIngressProps:
    """``host``: the public host. ``tls_secret_name``: certificate Secret, or None for HTTP.
    ``ingress_class``: the IngressClass; the rewrite annotations are ingress-nginx's.
    ``strip_prefix``: rewrite ``/litellm/x`` to ``/x`` (True) or pass it on unchanged.
    ``service_port``: the Service port served; never the metrics port, which stays in-cluster.
    """

    host: str
    service: kplus.Service
    ingress_class: str
    tls_secret_name: str | None
    strip_prefix: bool = True
    name: str = "litellm"
    service_port: int = 4000


class GatewayIngress(Construct):
    """Routes ``/litellm/*`` to the LiteLLM Service.

    Stripping: ingress-nginx matches ``/litellm(/|$)(.*)`` as a regex and rewrites to ``/$2``,
    so ``/litellm/v1/chat/completions`` reaches the proxy as ``/v1/chat/completions``.
    Not stripping: a plain ``Prefix`` path, for a proxy that knows its root path.
    """

    def __init__(self, scope: Construct, construct_id: str, props: GatewayIngressProps) -> None:
        super().__init__(scope, construct_id)
        self.ingress = kplus.Ingress(
            self,
            "ingress",
            metadata=cdk8s.ApiObjectMetadata(
                name=props.name,
                labels={"app.kubernetes.io/name": props.name},
                annotations=(
                    {
                        "nginx.ingress.kubernetes.io/use-regex": "true",
                        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
                    }
                    if props.strip_prefix
                    else None
                ),
            ),
            class_name=props.ingress_class,
            tls=(
                [
                    kplus.IngressTls(
                        hosts=[props.host],
                        secret=kplus.Secret.from_secret_name(
                            self, "tls-secret", props.tls_secret_name
                        ),
                    )
                ]
                if props.tls_secret_name
                else None
            ),
        )
        if props.strip_prefix:
            path, path_type = (
                f"{PATH_PREFIX}(/|$)(.*)",
                kplus.HttpIngressPathType.IMPLEMENTATION_SPECIFIC,
            )
        else:
            path, path_type = PATH_PREFIX, kplus.HttpIngressPathType.PREFIX
        self.ingress.add_host_rule(
            props.host,
            path,
            kplus.IngressBackend.from_service(props.service, port=props.service_port),
            path_type,
        )
