"""The workloads: the LiteLLM proxy, its Ingress, and the apps that consume secrets."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.constructs.app_route import (
    AppHttpRoute,
    AppHttpRouteProps,
    AppRouteIngress,
    AppRouteProps,
)
from lib.constructs.availability import Availability
from lib.constructs.budget_alerts import BudgetAlert, BudgetAlerts, BudgetAlertsProps
from lib.constructs.consumer_app import ConsumerApp
from lib.constructs.database_migration import (
    MIGRATE_LABELS,
    DatabaseMigration,
    DatabaseMigrationProps,
    schema_gate_container,
)
from lib.constructs.gateway_ingress import GatewayIngress, GatewayIngressProps, NginxLimits
from lib.constructs.gateway_keys import (
    KEYS_LABELS,
    DeclaredApp,
    GatewayKeys,
    GatewayKeysProps,
    own_key_gate_container,
)
from lib.constructs.gateway_route import GatewayRoute, GatewayRouteProps
from lib.constructs.litellm import LITELLM_PORT, LiteLLM, LiteLLMProps
from lib.constructs.network_isolation import (
    HTTPS_PORT,
    Forwarder,
    IsolatedWorkload,
    NetworkIsolation,
    RedisEgress,
    Scraper,
)
from lib.constructs.postgres import Postgres, PostgresProps
from lib.constructs.service_monitor import ServiceMonitor, ServiceMonitorProps
from lib.constructs.valkey import Valkey, ValkeyProps
from lib.environments import NGINX_INGRESS_CLASS, Environment, PathPrefixMode
from lib.secrets.gateway_secrets import GatewaySecrets
from lib.specs.database import POSTGRES_PORT, ExistingPostgres, InClusterPostgres
from lib.specs.gateway_access import KEY_VARIABLE
from lib.specs.metrics import METRICS_PATH, MULTIPROC_MOUNT
from lib.specs.redis import REDIS_PORT, ExistingRedis, InClusterValkey
from lib.specs.routes import AppRoute
from lib.wiring import LITELLM_POD, Wiring

SECRETS_DIGEST_ANNOTATION = "seance.dev/secrets-digest"


class GatewayChart(cdk8s.Chart):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: Environment,
        wiring: Wiring,
        secrets_by_group: Mapping[str, kplus.ISecret],
        secrets_digests: Mapping[str, str],
        gateway_secrets: GatewaySecrets | None = None,
    ) -> None:
        """``secrets_digests``: per pod (``litellm`` or an app name), the digest of the secret
        data it consumes, put on its pod template so that a rotated key rolls it.
        ``gateway_secrets``: what the synth knows of the app keys (their digest)."""
        super().__init__(
            scope, construct_id, namespace=environment.namespace, disable_resource_name_hashes=True
        )
        # The Redis password and the in-cluster Valkey's come from the LiteLLM group.
        litellm_secret = secrets_by_group[wiring.litellm_groups[0]]
        metrics = environment.metrics
        image = environment.gateway.image
        connection = environment.database_connection
        proxy_url = f"http://litellm.{environment.namespace}.svc.cluster.local:{LITELLM_PORT}"
        litellm_init = []
        if connection is not None:
            migration = DatabaseMigration(
                self,
                "database-migration",
                DatabaseMigrationProps(
                    image=image,
                    connection=connection,
                    litellm_secret=litellm_secret,
                    allow_salt_key_rotation=environment.allow_salt_key_rotation,
                    release_digest=secrets_digests.get(LITELLM_POD),
                    # The bundled cost map, not a fetch from GitHub at start.
                    plain_env={"LITELLM_LOCAL_MODEL_COST_MAP": "True"},
                ),
            )
            litellm_init.append(
                schema_gate_container(
                    self,
                    image=image,
                    gate_scripts=migration.gate_scripts,
                    connection=connection,
                    litellm_secret=litellm_secret,
                )
            )
        litellm = LiteLLM(
            self,
            "litellm",
            LiteLLMProps(
                image=environment.gateway.image,
                replicas=environment.gateway.replicas,
                secrets=[secrets_by_group[group] for group in wiring.litellm_groups],
                config_yaml=environment.proxy_config().render(),
                env=environment.litellm_env(),
                pod_annotations=_digest_annotation(secrets_digests.get(LITELLM_POD)),
                availability=environment.gateway.availability,
                secret_key_env={
                    variable: (litellm_secret, key)
                    for variable, key in environment.litellm_secret_env().items()
                },
                workers=environment.gateway.workers,
                metrics_port=metrics.port if metrics is not None else None,
                scaling_mounts=(MULTIPROC_MOUNT,) if metrics is not None else (),
                init_containers=litellm_init,
                drain_seconds=environment.shutdown_drain_seconds(),
                keepalive_seconds=environment.keepalive_seconds(),
                trusted_proxy_cidrs=environment.network.trusted_proxy_cidrs,
            ),
        )
        Availability(
            self,
            "litellm-availability",
            name="litellm",
            deployment=litellm.deployment,
            pod_labels=litellm.pod_labels,
            replicas=environment.gateway.replicas,
            spec=environment.gateway.availability,
        )
        isolated_valkey = None
        if isinstance(environment.redis, InClusterValkey):
            valkey = Valkey(
                self,
                "valkey",
                ValkeyProps(
                    spec=environment.redis,
                    password_secret=litellm_secret,
                    pod_annotations=_digest_annotation(secrets_digests.get(LITELLM_POD)),
                ),
            )
            isolated_valkey = IsolatedWorkload(
                environment.redis.name, valkey.pod_labels, REDIS_PORT
            )
        isolated_postgres = None
        if isinstance(environment.database, InClusterPostgres):
            postgres = Postgres(
                self,
                "postgres",
                PostgresProps(
                    spec=environment.database,
                    password_secret=litellm_secret,
                    pod_annotations=_digest_annotation(secrets_digests.get(LITELLM_POD)),
                ),
            )
            isolated_postgres = IsolatedWorkload(
                environment.database.name, postgres.pod_labels, POSTGRES_PORT
            )
        gateway_apps = environment.gateway_apps
        keys = None
        if gateway_apps:
            keys = GatewayKeys(
                self,
                "gateway-keys",
                GatewayKeysProps(
                    image=image,
                    manager=f"seance/{environment.name}",
                    proxy_url=proxy_url,
                    litellm_secret=litellm_secret,
                    apps=[
                        DeclaredApp(app.name, access, secrets_by_group[app.name])
                        for app, access in gateway_apps
                    ],
                    keys_digest=gateway_secrets.keys_digest if gateway_secrets else None,
                ),
            )
        if metrics is not None and metrics.service_monitor:
            budgets = [
                BudgetAlert(
                    app.name,
                    access.alias_for(app.name),
                    access.max_budget_usd,
                    access.budget_alert_ratio,
                )
                for app, access in gateway_apps
                if access.max_budget_usd is not None
            ]
            if budgets:
                BudgetAlerts(
                    self,
                    "budget-alerts",
                    BudgetAlertsProps(
                        name="litellm-key-budgets",
                        alerts=budgets,
                        labels=metrics.service_monitor_labels,
                    ),
                )
            ServiceMonitor(
                self,
                "service-monitor",
                ServiceMonitorProps(
                    name="litellm",
                    service=litellm.service,
                    selector={"app.kubernetes.io/name": "litellm"},
                    port="metrics",
                    path=METRICS_PATH,
                    interval=metrics.scrape_interval,
                    labels=metrics.service_monitor_labels,
                ),
            )
        route = environment.gateway_route
        strip_prefix = environment.path_prefix_mode is PathPrefixMode.REWRITE
        if route is not None:
            GatewayRoute(
                self,
                "route",
                GatewayRouteProps(
                    host=environment.host,
                    service=litellm.service,
                    route=route,
                    strip_prefix=strip_prefix,
                    timeout_seconds=environment.request_timeout_seconds(),
                ),
            )
        else:
            GatewayIngress(
                self,
                "ingress",
                GatewayIngressProps(
                    host=environment.host,
                    service=litellm.service,
                    ingress_class=environment.ingress_class,
                    tls_secret_name=environment.tls_secret_name,
                    strip_prefix=strip_prefix,
                    nginx_limits=(
                        NginxLimits(
                            body_size_mib=environment.gateway.max_request_body_mib,
                            timeout_seconds=environment.request_timeout_seconds(),
                        )
                        if environment.ingress_class == NGINX_INGRESS_CLASS
                        else None
                    ),
                ),
            )
        isolated_apps = []
        gateway_clients = [KEYS_LABELS] if keys is not None else []
        for app in environment.apps:
            env: dict[str, kplus.EnvValue] = {}
            init = []
            if app.gateway is not None and keys is not None:
                variables = app.gateway.variables
                key_secret = secrets_by_group[app.name]
                env = {
                    variables.key_variable: kplus.EnvValue.from_secret_value(
                        kplus.SecretValue(secret=key_secret, key=KEY_VARIABLE)
                    ),
                    variables.base_url_variable: kplus.EnvValue.from_value(
                        proxy_url + variables.base_url_path
                    ),
                }
                init = [
                    own_key_gate_container(
                        Construct(self, f"{app.name}-key-gate"),
                        image=image,
                        scripts=keys.scripts,
                        proxy_url=proxy_url,
                        key_secret=key_secret,
                    )
                ]
            consumer = ConsumerApp(
                self,
                app.name,
                spec=app,
                secrets=[secrets_by_group[group] for group in wiring.app_groups[app.name]],
                pod_annotations=_digest_annotation(secrets_digests.get(app.name)),
                env=env,
                init_containers=init,
            )
            if app.gateway is not None:
                gateway_clients.append(consumer.pod_labels)
            if app.route is not None:
                _publish(self, environment, app.name, app.route, consumer.service, app.port)
            isolated_apps.append(
                (IsolatedWorkload(app.name, consumer.pod_labels, app.port), app.allowed_ingress)
            )
        NetworkIsolation(
            self,
            "network",
            spec=environment.network,
            gateway=IsolatedWorkload("litellm", litellm.pod_labels, LITELLM_PORT),
            apps=isolated_apps,
            forwarder=(
                Forwarder(route.data_plane_namespace, route.data_plane_pods)
                if route is not None
                else None
            ),
            gateway_egress_ports=_upstream_ports(environment),
            valkey=isolated_valkey,
            scraper=(
                Scraper(metrics.port, metrics.scraper_namespace, metrics.scraper_pods)
                if metrics is not None
                else None
            ),
            redis_egress=(
                RedisEgress(environment.redis.port, environment.redis.namespace_labels)
                if isinstance(environment.redis, ExistingRedis)
                else None
            ),
            gateway_clients=gateway_clients,
            postgres=isolated_postgres,
            postgres_clients=[MIGRATE_LABELS] if isolated_postgres is not None else [],
            database_egress=(
                RedisEgress(environment.database.port, environment.database.namespace_labels)
                if isinstance(environment.database, ExistingPostgres)
                else None
            ),
        )


def _publish(
    scope: Construct,
    environment: Environment,
    name: str,
    route: AppRoute,
    service: kplus.Service,
    port: int,
) -> None:
    """An app's route, the way the environment serves the gateway: on its Gateway (an
    HTTPRoute) or on its ingress controller (an Ingress)."""
    host = route.host or environment.host
    if environment.gateway_route is not None:
        AppHttpRoute(
            scope,
            f"{name}-route",
            AppHttpRouteProps(name, host, route.path, service, port, environment.gateway_route),
        )
        return
    AppRouteIngress(
        scope,
        f"{name}-route",
        AppRouteProps(
            name=name,
            host=host,
            path=route.path,
            service=service,
            port=port,
            ingress_class=environment.ingress_class,
            # The environment's certificate is for its own host only.
            tls_secret_name=environment.tls_secret_name if host == environment.host else None,
        ),
    )


def _digest_annotation(digest: str | None) -> dict[str, str]:
    return {SECRETS_DIGEST_ANNOTATION: digest} if digest else {}


def _upstream_ports(environment: Environment) -> list[int]:
    """HTTPS, and the port of every model's custom ``api_base`` (for the egress policy)."""
    ports = {HTTPS_PORT}
    for model in environment.proxy.models:
        if model.api_base is not None:
            url = urlsplit(model.api_base)
            ports.add(url.port or (80 if url.scheme == "http" else HTTPS_PORT))
    return sorted(ports)
