"""The apps that consume secret groups."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lib.errors import SynthError
from lib.names import is_dns_label
from lib.specs.field_types import check_field_types
from lib.specs.gateway_access import GatewayAccess
from lib.specs.image import ImageRef
from lib.specs.network import AppIngress
from lib.specs.routes import AppRoute


@dataclass(frozen=True)
class HttpProbes:
    """Readiness and liveness as HTTP GETs on the app's port; any 2xx or 3xx passes.

    Readiness takes the pod out of its Service while it fails; liveness restarts the
    container after ``failure_threshold`` failures in a row.
    """

    readiness_path: str
    liveness_path: str
    period_seconds: int = 10
    failure_threshold: int = 3

    def __post_init__(self) -> None:
        check_field_types(self, "HttpProbes ")
        for path in (self.readiness_path, self.liveness_path):
            if not path.startswith("/"):
                raise SynthError(f"probe path '{path}' must start with '/'")
        if self.period_seconds < 1 or self.failure_threshold < 1:
            raise SynthError("probe period_seconds and failure_threshold must be at least 1")


@dataclass(frozen=True)
class NoProbes:
    """An explicit opt-out: the app has no HTTP health endpoint. ``reason`` says why.

    Without probes a hung app keeps receiving traffic and is never restarted; prefer
    ``HttpProbes``.
    """

    reason: str

    def __post_init__(self) -> None:
        check_field_types(self, "NoProbes ")
        if not self.reason.strip():
            raise SynthError("NoProbes needs a reason: say why the app cannot be probed")


@dataclass(frozen=True)
class ConsumerAppSpec:
    """An app that consumes secret groups through envFrom.

    ``probes`` is required: ``HttpProbes`` or an explicit ``NoProbes(reason=...)``.
    ``run_as_user`` must be a numeric user the image can run as: the pod refuses to start an
    image whose USER is root or a name when ``runAsNonRoot`` is set, as it is for every app.
    ``ingress``: who may connect to the app (default: nobody).
    ``gateway``: the app's own LiteLLM key, its models and limits (default: no access to the
    gateway, whose port then refuses the app's pods). The key's value is ``LITELLM_API_KEY`` in
    the app's own secrets group (the group named like the app).
    ``route``: publish the app through the ingress controller (``AppRoute``; default: not
    published), which also lets the controller connect.
    """

    name: str
    image: ImageRef
    port: int
    secret_groups: tuple[str, ...]
    probes: HttpProbes | NoProbes
    args: tuple[str, ...] = ()
    replicas: int = 1
    run_as_user: int = 65534
    ingress: AppIngress = field(default_factory=AppIngress)
    gateway: GatewayAccess | None = None
    route: AppRoute | None = None

    def __post_init__(self) -> None:
        check_field_types(self, f"app '{self.name}' ")

    @property
    def allowed_ingress(self) -> AppIngress:
        """Who may connect: ``ingress``, plus the ingress controller when the app is routed."""
        if self.route is None or self.ingress.from_ingress_controller:
            return self.ingress
        return replace(self.ingress, from_ingress_controller=True)

    def check(self, where: str, taken_names: frozenset[str]) -> None:
        """``taken_names``: the names of the environment's other workloads."""
        if not is_dns_label(self.name) or self.name in taken_names:
            raise SynthError(
                f"{where}: app name '{self.name}' must be a unique DNS-1123 label "
                "(lowercase letters, digits, '-') other than 'litellm'"
            )
        if not 1 <= self.port <= 65535:
            raise SynthError(f"{where}: app '{self.name}' has port {self.port}; use 1-65535")
        if self.replicas < 1 or self.run_as_user < 1:
            raise SynthError(
                f"{where}: app '{self.name}' needs replicas >= 1 and a non-root run_as_user"
            )
