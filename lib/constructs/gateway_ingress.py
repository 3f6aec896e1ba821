"""The Ingress that puts LiteLLM under /litellm on the environment's host."""

from __future__ import annotations

from dataclasses import dataclass

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.environments import LITELLM_PATH_PREFIX as PATH_PREFIX


@dataclass(frozen=True)
class NginxLimits:
    """ingress-nginx's per-request limits, set from the environment: its defaults (1m body,
    60 s between two reads of the upstream's answer) cut requests the proxy would serve.

    ``body_size_mib``: the largest request body (``proxy-body-size``; larger: 413).
    ``timeout_seconds``: how long nginx waits on the proxy between two reads or writes
    (``proxy-read-timeout``, ``proxy-send-timeout``): the worst case of the router settings,
    so a request that LiteLLM is still retrying or falling back is never cut with a 504.
    """

    body_size_mib: int
    timeout_seconds: int

    def annotations(self) -> dict[str, str]:
        timeout = str(self.timeout_seconds)
        return {
            "nginx.ingress.kubernetes.io/proxy-body-size": f"{self.body_size_mib}m",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": timeout,
            "nginx.ingress.kubernetes.io/proxy-send-timeout": timeout,
        }


@dataclass(frozen=True)
class GatewayIngressProps:
    """``host``: the public host. ``tls_secret_name``: certificate Secret, or None for HTTP.
    ``ingress_class``: the IngressClass; the rewrite annotations are ingress-nginx's.
    ``strip_prefix``: rewrite ``/litellm/x`` to ``/x`` (True) or pass it on unchanged.
    ``service_port``: the Service port served; never the metrics port, which stays in-cluster.
    ``nginx_limits``: ingress-nginx's body size and timeouts (None: another controller's
    defaults apply, and these annotations would mean nothing to it).
    """

    host: str
    service: kplus.Service
    ingress_class: str
    tls_secret_name: str | None
    strip_prefix: bool = True
    name: str = "litellm"
    service_port: int = 4000
    nginx_limits: NginxLimits | None = None


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
                annotations=_annotations(props) or None,
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


def _annotations(props: GatewayIngressProps) -> dict[str, str]:
    annotations = (
        {
            "nginx.ingress.kubernetes.io/use-regex": "true",
            "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
        }
        if props.strip_prefix
        else {}
    )
    if props.nginx_limits is not None:
        annotations.update(props.nginx_limits.annotations())
    return annotations
