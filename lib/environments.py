"""The environments this app synthesizes, as one typed table.

Everything that differs between dev and prod is a field here and reaches the constructs as a
constructor argument; no construct reads environment variables or asks where it runs.
To add an environment, add an entry to ``ENVIRONMENTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lib.environment_checks import check_environment, images, where_in_table, with_images
from lib.errors import SynthError
from lib.external_secrets import ExternalSecretSource, SecretStoreRef
from lib.litellm_runtime import keepalive_timeout_seconds
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.proxy_config.timing import PROXY_MARGIN_SECONDS, longest_try_seconds, worst_case_seconds
from lib.specs.apps import ConsumerAppSpec, HttpProbes, NoProbes
from lib.specs.availability import AutoscalingSpec, AvailabilitySpec
from lib.specs.cache import CacheSpec
from lib.specs.database import PASSWORD_VARIABLE as DATABASE_PASSWORD_VARIABLE
from lib.specs.database import (
    DatabaseSpec,
    ExistingPostgres,
    InClusterPostgres,
    PostgresConnection,
)
from lib.specs.database import connection_of as database_connection_of
from lib.specs.field_types import check_field_types
from lib.specs.gateway import GatewaySpec
from lib.specs.gateway_access import ClientVariables, GatewayAccess
from lib.specs.image import ImagePolicy, ImageRef
from lib.specs.metrics import MULTIPROC_DIR, MetricsSpec
from lib.specs.modes import PathPrefixMode, SecretMode
from lib.specs.network import NAMESPACE_NAME_LABEL, AppIngress, NetworkSpec
from lib.specs.redis import (
    PASSWORD_VARIABLE,
    ExistingRedis,
    InClusterValkey,
    RedisConnection,
    RedisSpec,
    connection_of,
)
from lib.specs.route import INGRESS_NGINX_UPSTREAM_KEEPALIVE_SECONDS, GatewayRouteSpec
from lib.specs.routes import AppRoute

# Names other modules import from here; and the app specs the table's example does not use
# but an app may need (docs/apps.md), importable here like the ones it uses.
__all__ = [
    "DEFAULT_ENVIRONMENT",
    "ENVIRONMENTS",
    "AppIngress",
    "Environment",
    "NoProbes",
    "PathPrefixMode",
    "SecretMode",
    "check_environment",
    "environment_named",
    "images",
    "with_images",
]
from lib.specs.router import RouterSpec

# Pinned: the proxy's behaviour (probes, master key rules, flags) was measured on this release,
# the one .venv-proxy installs (requirements/proxy.txt; tests/test_locks.py holds the two
# together). 1.106.12 carries the fixes of both advisories against 1.106.2, and images of the
# compromised 1.107.x series and floating tags are refused (lib/specs/image.py,
# docs/dependencies.md). The release notes of the 1.10x series publish and sign the images as
# ghcr.io/berriai/<variant>:vX.Y.Z (no "main-" prefix, no "-stable" suffix); litellm-non_root
# runs as uid 65534 and is what Pod Security "restricted" can run. To pin it by digest, run
# `make lock-images ENV=<env>` (images.lock.yaml) and verify it (docs/images.md).
LITELLM_IMAGE = ImageRef.parse("ghcr.io/berriai/litellm-non_root:v1.106.12")
# Where the proxy is served on the environment's host.
LITELLM_PATH_PREFIX = "/litellm"
# The IngressClass of ingress-nginx, whose annotations set the body size limit and timeouts.
NGINX_INGRESS_CLASS = "nginx"


@dataclass(frozen=True)
class Environment:
    """One deployment target.

    ``tls_secret_name`` turns on TLS for the Ingress host with that certificate Secret (with a
    ``gateway_route`` the Gateway's listener holds the certificate: leave it None)
    (created by cert-manager or by hand); ``None`` serves plain HTTP.
    ``gateway``: the LiteLLM proxy's image, replicas and workers.
    ``network``: ingress isolation and the optional egress policy of the gateway.
    ``image_policy``: whether every image must be pinned by digest.
    ``allow_demo_key`` lets the environment read a secrets file encrypted to the public demo
    key; production must not. ``proxy`` is LiteLLM's config.yaml: models, router, cache and
    pass-through settings. ``secret_mode`` picks how values reach the cluster;
    ``external_secrets`` is the store the ``EXTERNAL`` mode reads from. ``redis``: the Redis or
    Valkey the proxy processes share (required with more than one replica or worker, and for
    the cache). ``metrics``: the Prometheus callback on its own port, and a ServiceMonitor.
    ``database``: the Postgres that holds LiteLLM's virtual keys, budgets and spend (needed by
    apps with ``gateway`` access; see docs/database.md). ``admin_ui``: serve LiteLLM's admin UI
    and its API docs (``/``, ``/openapi.json``, ``/redoc``); needs ``ROOT_PATH`` mode and a
    database. ``allow_salt_key_rotation``: let the migration Job accept a changed
    ``LITELLM_SALT_KEY`` (stored credentials become unreadable; docs/database.md).
    ``gateway_route``: serve the proxy through a Gateway API HTTPRoute to that Gateway instead
    of an Ingress (docs/gateway-api.md); ``None``: the Ingress of ``ingress_class``.
    ``ingress_upstream_keepalive_seconds``: how long the ingress controller keeps an idle
    connection to the proxy (ingress-nginx's ``upstream-keepalive-timeout``, 60 s by default;
    set your controller's): the proxy keeps them longer.
    """

    name: str
    namespace: str
    host: str
    secrets_file: Path
    gateway: GatewaySpec
    apps: tuple[ConsumerAppSpec, ...]
    proxy: ProxyConfigSpec
    path_prefix_mode: PathPrefixMode = PathPrefixMode.REWRITE
    secret_mode: SecretMode = SecretMode.PLAIN
    external_secrets: ExternalSecretSource | None = None
    tls_secret_name: str | None = None
    network: NetworkSpec = field(default_factory=NetworkSpec)
    image_policy: ImagePolicy = field(default_factory=ImagePolicy)
    allow_demo_key: bool = False
    litellm_group: str = "litellm"
    ingress_class: str = "nginx"
    redis: RedisSpec | None = None
    metrics: MetricsSpec | None = None
    gateway_route: GatewayRouteSpec | None = None
    ingress_upstream_keepalive_seconds: int = INGRESS_NGINX_UPSTREAM_KEEPALIVE_SECONDS
    database: DatabaseSpec | None = None
    admin_ui: bool = False
    allow_salt_key_rotation: bool = False

    def __post_init__(self) -> None:
        # Every nested spec's fields against their annotations: a string where an ImageRef
        # goes, a missing comma in a one-item tuple, is one line naming the field.
        check_field_types(self, recursive=True)

    @property
    def database_connection(self) -> PostgresConnection | None:
        return database_connection_of(self.database) if self.database is not None else None

    @property
    def gateway_apps(self) -> tuple[tuple[ConsumerAppSpec, GatewayAccess], ...]:
        """The apps with their own gateway key, in declaration order."""
        return tuple((app, app.gateway) for app in self.apps if app.gateway is not None)

    @property
    def redis_connection(self) -> RedisConnection | None:
        return connection_of(self.redis) if self.redis is not None else None

    def proxy_config(self) -> ProxyConfigSpec:
        """``proxy`` with this environment's Redis and metrics filled in: what is rendered."""
        return replace(self.proxy, redis=self.redis_connection, prometheus=self.metrics is not None)

    def request_timeout_seconds(self) -> int:
        """The longest one request may take through the proxy (``lib/proxy_config/timing.py``):
        the ingress must wait that long for an answer."""
        return worst_case_seconds(self.proxy_config(), where_in_table(self.name))

    def shutdown_drain_seconds(self) -> int:
        """How long the proxy drains after SIGTERM: the router's longest single try plus the
        proxy's own work around it, so the answer in progress when the pod is told to stop
        finishes (``lib/proxy_config/timing.py``)."""
        return (
            longest_try_seconds(self.proxy_config(), where_in_table(self.name))
            + PROXY_MARGIN_SECONDS
        )

    def upstream_idle_timeout_seconds(self) -> int:
        """How long whatever forwards to the proxy keeps an idle connection to it."""
        if self.gateway_route is not None:
            return self.gateway_route.upstream_idle_timeout_seconds
        return self.ingress_upstream_keepalive_seconds

    def keepalive_seconds(self) -> int:
        """The proxy's ``--keepalive_timeout``: longer than the forwarder's idle timeout."""
        return keepalive_timeout_seconds(self.upstream_idle_timeout_seconds())

    def litellm_env(self) -> dict[str, str]:
        """Plain (non-secret) variables of the LiteLLM container."""
        env: dict[str, str] = {}
        if self.path_prefix_mode is PathPrefixMode.ROOT_PATH:
            env["SERVER_ROOT_PATH"] = LITELLM_PATH_PREFIX
        if (connection := self.redis_connection) is not None:
            env.update(connection.plain_env())
        if self.metrics is not None:
            # The metrics process reads every worker's samples from here: a writable mount.
            env["PROMETHEUS_MULTIPROC_DIR"] = MULTIPROC_DIR
        if (database := self.database_connection) is not None:
            env.update(database.plain_env())
            # Serving pods never migrate: the release's migration Job does, once, first
            # (docs/database.md); an init container holds them until it has.
            env["DISABLE_SCHEMA_UPDATE"] = "true"
        if not self.admin_ui:
            # The admin UI and the public API pages (/, /openapi.json, /redoc) are off.
            env.update({"DISABLE_ADMIN_UI": "True", "NO_DOCS": "True", "NO_REDOC": "True"})
        return env

    def litellm_secret_env(self) -> dict[str, str]:
        """Variables of the LiteLLM container taken from single keys of its secrets group:
        variable -> key. Only when the Redis password key is not already called
        REDIS_PASSWORD, which envFrom hands over as it is."""
        env: dict[str, str] = {}
        connection = self.redis_connection
        if connection is not None and connection.password_key not in (None, PASSWORD_VARIABLE):
            env[PASSWORD_VARIABLE] = connection.password_key
        database = self.database_connection
        if database is not None and database.password_key != DATABASE_PASSWORD_VARIABLE:
            env[DATABASE_PASSWORD_VARIABLE] = database.password_key
        return env


# A stand-in for your own backend: a tiny static HTTP server that receives the Stripe keys.
# Replace image, port, args and probes with your app's; keep the groups it really needs.
# http-echo answers every path with 200, so "/" serves as both probes. It is the app behind
# the environment's host: published at "/" (the gateway keeps /litellm), which also lets the
# ingress controller reach it. Drop `route` for an app nobody outside the cluster calls.
_EXAMPLE_BACKEND = ConsumerAppSpec(
    name="backend",
    image=ImageRef.parse("docker.io/hashicorp/http-echo:1.0.0"),
    port=5678,
    secret_groups=("stripe",),
    probes=HttpProbes(readiness_path="/", liveness_path="/"),
    args=("-listen=:5678", "-text=backend placeholder: replace with your app"),
    route=AppRoute(path="/"),
)

# An app that calls the gateway with a key of its own, limited to one model, 60 requests and
# 100k tokens a minute and $20 per 30 days. Its key is LITELLM_API_KEY in the secrets' chatbot
# group; it receives it as OPENAI_API_KEY, with OPENAI_BASE_URL pointing at the gateway, so an
# app built on the OpenAI SDK needs no code (docs/gateway-keys.md). http-echo stands in for it.
_EXAMPLE_CHATBOT = ConsumerAppSpec(
    name="chatbot",
    image=ImageRef.parse("docker.io/hashicorp/http-echo:1.0.0"),
    port=5678,
    secret_groups=(),
    probes=HttpProbes(readiness_path="/", liveness_path="/"),
    args=("-listen=:5678", "-text=chatbot placeholder: replace with your app"),
    gateway=GatewayAccess(
        models=("gpt-4o-mini",),
        max_budget_usd=20,
        budget_duration="30d",
        rpm_limit=60,
        tpm_limit=100_000,
        variables=ClientVariables.OPENAI,
    ),
)

# Models clients can ask for, SHARED BY DEV AND PROD: a model added here reaches production
# with the next prod synth. To try one in dev only, add it to _DEV_PROXY below instead.
# Each provider's key comes from the secrets' litellm group (OPENAI_API_KEY, ANTHROPIC_API_KEY,
# OPENROUTER_API_KEY, ...): add the key there, then the model here (docs/models.md).
# openrouter-default is the system default provider: a model that fails (errors, timeouts,
# rate limits) is answered by it instead.
_MODELS = ProxyConfigSpec(
    models=(
        ModelSpec(name="gpt-4o-mini", model="openai/gpt-4o-mini", timeout=60, stream_timeout=30),
        ModelSpec(name="claude-sonnet", model="anthropic/claude-sonnet-4-5", timeout=120),
        ModelSpec(name="openrouter-default", model="openrouter/openai/gpt-4o-mini", timeout=60),
    ),
    router=RouterSpec(
        num_retries=2,
        timeout=120,
        fallbacks={
            "gpt-4o-mini": ("openrouter-default",),
            "claude-sonnet": ("openrouter-default",),
        },
        allowed_fails=3,
        cooldown_time=30,
    ),
)
# Development: the shared models, plus a cache of identical requests for 10 minutes in the
# in-cluster Valkey. A dev-only model goes here, e.g.
#   models=(*_MODELS.models, ModelSpec(name="llama", model="groq/llama-3.3-70b-versatile")),
_DEV_PROXY = replace(_MODELS, cache=CacheSpec(ttl_seconds=600))

ENVIRONMENTS: dict[str, Environment] = {
    "dev": Environment(
        name="dev",
        namespace="seance",
        host="backend.dev.localhost",
        secrets_file=Path("secrets/secrets.yaml"),
        gateway=GatewaySpec(image=LITELLM_IMAGE, replicas=1),
        apps=(_EXAMPLE_BACKEND, _EXAMPLE_CHATBOT),
        proxy=_DEV_PROXY,
        allow_demo_key=True,
        # A throwaway Valkey next to the proxy, password from the secrets (REDIS_PASSWORD).
        redis=InClusterValkey(),
        # A throwaway Postgres for keys, budgets and spend (DATABASE_PASSWORD in the secrets).
        database=InClusterPostgres(),
        # The admin UI under /litellm/ui, which needs the prefix kept (ROOT_PATH).
        path_prefix_mode=PathPrefixMode.ROOT_PATH,
        admin_ui=True,
    ),
    "prod": Environment(
        name="prod",
        namespace="seance",
        host="backend.seance.dev",
        secrets_file=Path("secrets/prod.yaml"),
        gateway=GatewaySpec(
            image=LITELLM_IMAGE,
            replicas=2,
            workers=2,
            availability=AvailabilitySpec(
                spread_across_zones=True, autoscaling=AutoscalingSpec(max_replicas=6)
            ),
        ),
        apps=(_EXAMPLE_BACKEND, _EXAMPLE_CHATBOT),
        proxy=_MODELS,  # the models dev uses too (see _MODELS)
        # The Postgres that already runs in the cluster, over TLS; its password is
        # DATABASE_PASSWORD in the litellm group. No admin UI or API pages in production.
        database=ExistingPostgres(
            host="postgres-rw.postgres.svc.cluster.local",
            database="litellm",
            user="litellm",
            namespace_labels={NAMESPACE_NAME_LABEL: "postgres"},
        ),
        # The Valkey that already runs in the cluster; its password is REDIS_PASSWORD in the
        # litellm group (filled by the External Secrets Operator).
        redis=ExistingRedis(
            host="valkey-primary.valkey.svc.cluster.local",
            port=6379,
            # Its namespace, so that the egress policy below lets LiteLLM reach it.
            namespace_labels={NAMESPACE_NAME_LABEL: "valkey"},
        ),
        # kube-prometheus-stack installed as release "kube-prometheus-stack": its Prometheus
        # selects ServiceMonitors labelled with its release name.
        metrics=MetricsSpec(service_monitor_labels={"release": "kube-prometheus-stack"}),
        # Production writes no plaintext: the External Secrets Operator fills the Secrets
        # from the store; the SOPS file only tells which keys each group has.
        secret_mode=SecretMode.EXTERNAL,
        external_secrets=ExternalSecretSource(
            store=SecretStoreRef(name="seance-secret-store", kind="ClusterSecretStore"),
            remote_key_template="seance/{group}",
        ),
        # Served through the Gateway API, not ingress-nginx (retired in March 2026): an HTTPRoute
        # on the HTTPS listener of the platform's Gateway "public" in namespace "gateway",
        # which holds the certificate (docs/gateway-api.md). Its Envoy Gateway data plane runs
        # in envoy-gateway-system, one Deployment per Gateway, labelled with the Gateway's name.
        gateway_route=GatewayRouteSpec(
            gateway_name="public",
            gateway_namespace="gateway",
            section_name="https",
            data_plane_namespace={NAMESPACE_NAME_LABEL: "envoy-gateway-system"},
            data_plane_pods={"gateway.envoyproxy.io/owning-gateway-name": "public"},
        ),
        # LiteLLM may reach DNS, its own namespace and HTTPS (plus its models' api_base ports),
        # over IPv4 and IPv6. It believes the client address that the gateway's pods forward:
        # they run in the cluster's pod network (here 10.244.0.0/16 and fd00:10:244::/56, the
        # dual-stack defaults of kubeadm-style clusters: put your cluster's pod CIDRs).
        network=NetworkSpec(
            restrict_gateway_egress=True,
            trusted_proxy_cidrs=("10.244.0.0/16", "fd00:10:244::/56"),
        ),
        # Off until real digests are locked: no registry serving these images can be reached
        # from this project's machines, and a made-up digest would be an image that does not
        # exist. Turn it on in the commit that adds prod's entries of images.lock.yaml
        # (`make lock-images ENV=prod`, docs/images.md).
        image_policy=ImagePolicy(require_digests=False),
    ),
}
DEFAULT_ENVIRONMENT = "dev"


def environment_named(
    name: str, environments: Mapping[str, Environment] = ENVIRONMENTS
) -> Environment:
    """The environment called ``name``, checked so that constructs get valid values only."""
    try:
        environment = environments[name]
    except KeyError:
        known = ", ".join(sorted(environments))
        raise SynthError(
            f"unknown environment '{name}': use one of {known}, or add it to lib/environments.py"
        ) from None
    check_environment(environment)
    return environment
