"""The environments this app synthesizes, as one typed table.

Everything that differs between dev and prod is a field here and reaches the constructs as a
constructor argument; no construct reads environment variables or asks where it runs.
To add an environment, add an entry to ``ENVIRONMENTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from lib.errors import SynthError
from lib.external_secrets import ExternalSecretSource, SecretStoreRef
from lib.names import is_dns_label
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.specs.apps import ConsumerAppSpec, HttpProbes
from lib.specs.availability import AutoscalingSpec, AvailabilitySpec
from lib.specs.gateway import GatewaySpec
from lib.specs.image import ImagePolicy, ImageRef
from lib.specs.network import AppIngress, NetworkSpec

# Pinned: the proxy's behaviour (probes, master key rules, flags) was measured on this release.
# The release notes of the 1.10x series publish and sign the images as
# ghcr.io/berriai/<variant>:vX.Y.Z (no "main-" prefix, no "-stable" suffix); litellm-non_root
# runs as uid 65534 and is what Pod Security "restricted" can run. Add @sha256:<digest> after
# `crane digest` / `docker buildx imagetools inspect` against your registry (README).
LITELLM_IMAGE = ImageRef.parse("ghcr.io/berriai/litellm-non_root:v1.106.2")
# Where the proxy is served on the environment's host.
LITELLM_PATH_PREFIX = "/litellm"


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

    ``tls_secret_name`` turns on TLS for the ingress host with that certificate Secret
    (created by cert-manager or by hand); ``None`` serves plain HTTP.
    ``gateway``: the LiteLLM proxy's image, replicas and workers.
    ``network``: ingress isolation and the optional egress policy of the gateway.
    ``image_policy``: whether every image must be pinned by digest.
    ``allow_demo_key`` lets the environment read a secrets file encrypted to the public demo
    key; production must not. ``proxy`` is LiteLLM's config.yaml: models and pass-through
    settings. ``secret_mode`` picks how values reach the cluster; ``external_secrets`` is the
    store the ``EXTERNAL`` mode reads from.
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

    def litellm_env(self) -> dict[str, str]:
        """Plain (non-secret) variables of the LiteLLM container."""
        if self.path_prefix_mode is PathPrefixMode.ROOT_PATH:
            return {"SERVER_ROOT_PATH": LITELLM_PATH_PREFIX}
        return {}


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

# Models clients can ask for. Each provider's key comes from the secrets' litellm group
# (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...): add the key there, then the model here.
_MODELS = ProxyConfigSpec(
    models=(
        ModelSpec(name="gpt-4o-mini", model="openai/gpt-4o-mini"),
        ModelSpec(name="claude-sonnet", model="anthropic/claude-sonnet-4-5"),
    ),
)

ENVIRONMENTS: dict[str, Environment] = {
    "dev": Environment(
        name="dev",
        namespace="seance",
        host="backend.dev.localhost",
        secrets_file=Path("secrets/secrets.yaml"),
        gateway=GatewaySpec(image=LITELLM_IMAGE, replicas=1),
        apps=(_EXAMPLE_BACKEND,),
        proxy=_MODELS,
        allow_demo_key=True,
    ),
    "prod": Environment(
        name="prod",
        namespace="seance",
        host="backend.seance.dev",
        secrets_file=Path("secrets/prod.yaml"),
        gateway=GatewaySpec(
            image=LITELLM_IMAGE,
            replicas=2,
            availability=AvailabilitySpec(
                spread_across_zones=True, autoscaling=AutoscalingSpec(max_replicas=6)
            ),
        ),
        apps=(_EXAMPLE_BACKEND,),
        proxy=_MODELS,
        # Production writes no plaintext: the External Secrets Operator fills the Secrets
        # from the store; the SOPS file only tells which keys each group has.
        secret_mode=SecretMode.EXTERNAL,
        external_secrets=ExternalSecretSource(
            store=SecretStoreRef(name="seance-secret-store", kind="ClusterSecretStore"),
            remote_key_template="seance/{group}",
        ),
        tls_secret_name="backend-seance-dev-tls",  # noqa: S106 - a Secret name, not a secret
        # LiteLLM may reach DNS, its own namespace and HTTPS (plus its models' api_base ports).
        network=NetworkSpec(restrict_gateway_egress=True),
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


def check_environment(environment: Environment) -> None:
    where = f"lib/environments.py, environment '{environment.name}'"
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
    _check_images(environment, where)
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


def images(environment: Environment) -> dict[str, ImageRef]:
    """Every image of the environment, by the workload that runs it."""
    return {"litellm": environment.gateway.image, **{a.name: a.image for a in environment.apps}}


def _check_images(environment: Environment, where: str) -> None:
    if not environment.image_policy.require_digests:
        return
    for workload, image in images(environment).items():
        if not image.pinned_by_digest:
            raise SynthError(
                f"{where}: image '{image}' of '{workload}' is not pinned by digest, and the "
                "environment's image_policy requires digests: append @sha256:<digest> "
                '(README, "Pin images by digest")'
            )
