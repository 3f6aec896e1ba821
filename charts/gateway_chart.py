"""The workloads: the LiteLLM proxy, its Ingress, and the apps that consume secrets."""

from __future__ import annotations

from collections.abc import Mapping

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.constructs.consumer_app import ConsumerApp
from lib.constructs.gateway_ingress import GatewayIngress, GatewayIngressProps
from lib.constructs.litellm import LiteLLM, LiteLLMProps
from lib.environments import Environment
from lib.wiring import Wiring


class GatewayChart(cdk8s.Chart):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: Environment,
        wiring: Wiring,
        secrets_by_group: Mapping[str, kplus.ISecret],
    ) -> None:
        super().__init__(
            scope, construct_id, namespace=environment.namespace, disable_resource_name_hashes=True
        )
        litellm = LiteLLM(
            self,
            "litellm",
            LiteLLMProps(
                image=environment.litellm_image,
                replicas=environment.litellm_replicas,
                secrets=[secrets_by_group[group] for group in wiring.litellm_groups],
            ),
        )
        GatewayIngress(
            self,
            "ingress",
            GatewayIngressProps(
                host=environment.host,
                service=litellm.service,
                ingress_class=environment.ingress_class,
                tls_secret_name=environment.tls_secret_name,
            ),
        )
        for app in environment.apps:
            ConsumerApp(
                self,
                app.name,
                spec=app,
                secrets=[secrets_by_group[group] for group in wiring.app_groups[app.name]],
            )
