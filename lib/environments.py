"""The environments this app synthesizes, as one typed table.

Everything that differs between dev and prod is a field here and reaches the constructs as a
constructor argument; no construct reads environment variables or asks where it runs.
To add an environment, add an entry to ``ENVIRONMENTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from lib.errors import SynthError
from lib.external_secrets import ExternalSecretSource, SecretStoreRef
from lib.litellm_runtime import TMP_MOUNT, keepalive_timeout_seconds
from lib.names import is_dns_label, is_env_var_name
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.proxy_config.timing import PROXY_MARGIN_SECONDS, longest_try_seconds, worst_case_seconds
from lib.specs.apps import ConsumerAppSpec, HttpProbes
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
from lib.specs.gateway import GatewaySpec
from lib.specs.gateway_access import ClientVariables, GatewayAccess
from lib.specs.gateway_rules import check_gateway_rules
from lib.specs.image import ImagePolicy, ImageRef
from lib.specs.metrics import MULTIPROC_DIR, MetricsSpec
from lib.specs.network import NAMESPACE_NAME_LABEL, AppIngress, NetworkSpec, check_labels
from lib.specs.redis import (
    PASSWORD_VARIABLE,
    ExistingRedis,
    InClusterValkey,
    RedisConnection,
    RedisSpec,
    connection_of,
)
from lib.specs.route import INGRESS_NGINX_UPSTREAM_KEEPALIVE_SECONDS, GatewayRouteSpec
from lib.specs.router import RouterSpec

# Pinned: the proxy's behaviour (probes, master key rules, flags) was measured on this release,
# the one .venv-proxy installs (requirements/proxy.txt; tests/test_locks.py holds the two
# together). 1.106.12 carries the fixes of both advisories against 1.106.2, and images of the
# compromised 1.107.x series and floating tags are refused (lib/specs/image.py,
# docs/dependencies.md). The release notes of the 1.10x series publish and sign the images as
# ghcr.io/berriai/<variant>:vX.Y.Z (no "main-" prefix, no "-stable" suffix); litellm-non_root
# runs as uid 65534 and is what Pod Security "restricted" can run. Add @sha256:<digest> after
# `crane digest` / `docker buildx imagetools inspect` against your registry (README).
LITELLM_IMAGE = ImageRef.parse("ghcr.io/berriai/litellm-non_root:v1.106.12")
# Where the proxy is served on the environment's host.
LITELLM_PATH_PREFIX = "/litellm"
# The IngressClass of ingress-nginx, whose annotations set the body size limit and timeouts.
NGINX_INGRESS_CLASS = "nginx"
# Uploads of the largest allowed size that the proxy's /tmp must hold at once: starlette spools
# every file part over 1 MiB there until the request ends.
SPOOLED_UPLOADS_IN_FLIGHT = 8


class PathPrefixMode(Enum):
    """How LiteLLM is served under ``/litellm`` (see README, "Path prefix").

    ``REWRITE``: ingress-nginx strips the prefix; the proxy sees ``/v1/...``. API routes work;
    the admin UI and ``/openapi.json`` links point at the unprefixed paths and break.
    ``ROOT_PATH``: the prefix is kept and LiteLLM is told about it (``SERVER_ROOT_PATH``), so the
    UI and the OpenAPI document work under ``/litellm`` too; any ingress controller will do.
    """

    REWRITE = "rewrite"
    ROOT_PATH = "root_path"


class SecretMode(Enum):
    """How the secret values reach the cluster (see README, "Secret modes").

    ``PLAIN``: Secrets with the decrypted values, in dist/10-secrets.k8s.yaml (mode 0600).
    ``EXTERNAL``: ExternalSecret objects for the External Secrets Operator; the SOPS file is
    read for key names only, never decrypted, and no value is written anywhere.
    ``SOPS``: the Secrets written SOPS-encrypted (data/stringData only, recipients from
    .sops.yaml) for Flux's kustomize-controller to decrypt at apply time.
    """

    PLAIN = "plain"
    EXTERNAL = "external"
    SOPS = "sops"


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
        return worst_case_seconds(self.proxy_config(), _where(self))

    def shutdown_drain_seconds(self) -> int:
        """How long the proxy drains after SIGTERM: the router's longest single try plus the
        proxy's own work around it, so the answer in progress when the pod is told to stop
        finishes (``lib/proxy_config/timing.py``)."""
        return longest_try_seconds(self.proxy_config(), _where(self)) + PROXY_MARGIN_SECONDS

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
# the environment's host, so the ingress controller may reach it (add its Ingress route).
_EXAMPLE_BACKEND = ConsumerAppSpec(
    name="backend",
    image=ImageRef.parse("docker.io/hashicorp/http-echo:1.0.0"),
    port=5678,
    secret_groups=("stripe",),
    probes=HttpProbes(readiness_path="/", liveness_path="/"),
    args=("-listen=:5678", "-text=backend placeholder: replace with your app"),
    ingress=AppIngress(from_ingress_controller=True),
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

# Models clients can ask for. Each provider's key comes from the secrets' litellm group
# (OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENROUTER_API_KEY, ...): add the key there, then the model
# here. openrouter-default is the system default provider: a model that fails (errors,
# timeouts, rate limits) is answered by it instead.
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
# Development caches identical requests for 10 minutes in the in-cluster Valkey.
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
        proxy=_MODELS,
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
        # Off until real digests are pinned: none can be looked up from this project's
        # machines, and a made-up digest would be an image that does not exist (README,
        # "Pin images by digest"). Turn it on together with the digests.
        image_policy=ImagePolicy(require_digests=False),
    ),
}
DEFAULT_ENVIRONMENT = "dev"


_RESERVED_APP_NAMES = frozenset({"litellm"})


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


def _where(environment: Environment) -> str:
    return f"lib/environments.py, environment '{environment.name}'"


def check_environment(environment: Environment) -> None:
    where = _where(environment)
    if not is_dns_label(environment.namespace):
        raise SynthError(f"{where}: namespace '{environment.namespace}' is not a DNS-1123 label")
    if environment.secret_mode is SecretMode.EXTERNAL and environment.external_secrets is None:
        raise SynthError(f"{where}: secret_mode EXTERNAL needs external_secrets (the store)")
    gateway = environment.gateway
    if gateway.replicas < 1 or gateway.workers < 1:
        raise SynthError(f"{where}: gateway replicas and workers must be at least 1")
    availability = gateway.availability
    if gateway.replicas > 1 and availability.max_unavailable >= gateway.replicas:
        raise SynthError(
            f"{where}: gateway availability max_unavailable {availability.max_unavailable} "
            f"lets all {gateway.replicas} replicas go at once: use less than replicas"
        )
    if availability.autoscaling and availability.autoscaling.max_replicas < gateway.replicas:
        raise SynthError(
            f"{where}: gateway autoscaling max_replicas "
            f"{availability.autoscaling.max_replicas} is below replicas {gateway.replicas}"
        )
    _check_request_limits(environment, where)
    _check_redis(environment, where)
    _check_metrics(environment, where)
    seen: set[str] = set()
    for app in environment.apps:
        if not is_dns_label(app.name) or app.name in _RESERVED_APP_NAMES or app.name in seen:
            raise SynthError(
                f"{where}: app name '{app.name}' must be a unique DNS-1123 label "
                "(lowercase letters, digits, '-') other than 'litellm'"
            )
        seen.add(app.name)
        if not 1 <= app.port <= 65535:
            raise SynthError(f"{where}: app '{app.name}' has port {app.port}; use 1-65535")
        if app.replicas < 1 or app.run_as_user < 1:
            raise SynthError(
                f"{where}: app '{app.name}' needs replicas >= 1 and a non-root run_as_user"
            )
    for app in environment.apps:
        unknown = sorted(set(app.ingress.from_apps) - seen)
        if unknown:
            raise SynthError(
                f"{where}: app '{app.name}' allows ingress from unknown apps {unknown}: "
                f"use names of this environment's apps ({', '.join(sorted(seen))})"
            )
    check_gateway_rules(environment, where)


def images(environment: Environment) -> dict[str, ImageRef]:
    """Every image of the environment, by the workload that runs it."""
    found = {"litellm": environment.gateway.image, **{a.name: a.image for a in environment.apps}}
    if isinstance(environment.redis, InClusterValkey):
        found[environment.redis.name] = environment.redis.image
    if isinstance(environment.database, InClusterPostgres):
        found[environment.database.name] = environment.database.image
    return found


def with_images(environment: Environment, replacements: Mapping[str, ImageRef]) -> Environment:
    """``environment`` with the images of the workloads named (as ``images`` names them)
    replaced; beside ``images`` so the two always agree on where images live."""
    gateway, redis, database = environment.gateway, environment.redis, environment.database
    if "litellm" in replacements:
        gateway = replace(gateway, image=replacements["litellm"])
    if isinstance(redis, InClusterValkey) and redis.name in replacements:
        redis = replace(redis, image=replacements[redis.name])
    if isinstance(database, InClusterPostgres) and database.name in replacements:
        database = replace(database, image=replacements[database.name])
    apps = tuple(
        replace(app, image=replacements[app.name]) if app.name in replacements else app
        for app in environment.apps
    )
    return replace(environment, gateway=gateway, apps=apps, redis=redis, database=database)


def _check_request_limits(environment: Environment, where: str) -> None:
    body_mib = environment.gateway.max_request_body_mib
    most = TMP_MOUNT.size_limit_mib // SPOOLED_UPLOADS_IN_FLIGHT
    if isinstance(body_mib, bool) or not isinstance(body_mib, int) or not 1 <= body_mib <= most:
        raise SynthError(
            f"{where}: gateway max_request_body_mib {body_mib} must be 1-{most}: uploads over "
            f"1 MiB spool to the proxy's /tmp emptyDir ({TMP_MOUNT.size_limit_mib}Mi, "
            f"TMP_MOUNT in lib/litellm_runtime.py), which must hold {SPOOLED_UPLOADS_IN_FLIGHT} "
            "of them at once; raise its size_limit_mib with the body size"
        )
    environment.request_timeout_seconds()  # refuses a timeout it cannot read, in one line


def _check_redis(environment: Environment, where: str) -> None:
    gateway, redis = environment.gateway, environment.redis
    if redis is None:
        if gateway.replicas > 1 or gateway.workers > 1:
            raise SynthError(
                f"{where}: {gateway.replicas} replicas x {gateway.workers} workers without "
                "Redis: rate limits, cooldowns and the cache would be kept per process; set "
                "redis (ExistingRedis or InClusterValkey) or run 1 replica with 1 worker"
            )
        return
    password_key = redis.password_key
    if password_key is not None and not is_env_var_name(password_key):
        raise SynthError(
            f"{where}: redis password_key '{password_key}' is not an environment variable name"
        )
    if isinstance(redis, ExistingRedis):
        if not redis.host.strip() or any(c.isspace() or c in "/@:" for c in redis.host):
            # Never echo a host that may hold credentials (user:password@host).
            shown = "" if "@" in redis.host else f" '{redis.host}'"
            raise SynthError(
                f"{where}: redis host{shown} must be a host name, without scheme, port or "
                "credentials: set port and tls separately, the password with password_key"
            )
        if not 1 <= redis.port <= 65535 or redis.db < 0:
            raise SynthError(f"{where}: redis needs a port in 1-65535 and a db number >= 0")
        if redis.namespace_labels is not None:
            if not redis.namespace_labels:
                raise SynthError(
                    f"{where}: redis namespace_labels is empty, which would let LiteLLM reach "
                    "the Redis port in every namespace: give the labels of its namespace, or "
                    "None for a server outside the cluster"
                )
            check_labels(redis.namespace_labels, f"{where}: redis namespace_labels")
    elif isinstance(redis, InClusterValkey):
        taken = {"litellm", *(app.name for app in environment.apps)}
        if not is_dns_label(redis.name) or redis.name in taken:
            raise SynthError(
                f"{where}: valkey name '{redis.name}' must be a DNS-1123 label that no app or "
                "the proxy uses"
            )
        if redis.max_memory_mib < 16 or redis.run_as_user < 1:
            raise SynthError(
                f"{where}: valkey needs max_memory_mib >= 16 and a non-root run_as_user"
            )


def _check_metrics(environment: Environment, where: str) -> None:
    metrics = environment.metrics
    if metrics is None:
        return
    if not 1 <= metrics.port <= 65535 or metrics.port == 4000:
        raise SynthError(
            f"{where}: metrics port {metrics.port} must be in 1-65535 and differ from the "
            "proxy's port 4000"
        )
    if metrics.service_monitor and not metrics.service_monitor_labels:
        # prometheus-operator picks ServiceMonitors by label (kube-prometheus-stack's default
        # serviceMonitorSelector is `release: <its release name>`): an unlabelled one is
        # applied, accepted and never scraped, with no error anywhere.
        raise SynthError(
            f"{where}: metrics service_monitor has no service_monitor_labels, so no Prometheus "
            "selects it: set the labels your Prometheus's serviceMonitorSelector matches "
            "(kube-prometheus-stack: {'release': '<its release name>'}, e.g. "
            "{'release': 'kube-prometheus-stack'}), or service_monitor=False"
        )
