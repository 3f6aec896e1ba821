"""How the gateway stays up through node drains, rollouts and load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lib.errors import SynthError
from lib.specs.field_types import check_field_types


@dataclass(frozen=True)
class AutoscalingSpec:
    """A HorizontalPodAutoscaler on CPU, from the gateway's ``replicas`` up to ``max_replicas``.

    CPU only, never memory: the proxy's memory grows with caches and does not fall back when
    load drops, so a memory target would scale up and never down.
    """

    max_replicas: int
    target_cpu_percent: int = 70

    def __post_init__(self) -> None:
        check_field_types(self, "AutoscalingSpec ")
        if not 1 <= self.target_cpu_percent <= 100:
            raise SynthError(
                f"autoscaling target_cpu_percent {self.target_cpu_percent} is not a "
                "percentage of the CPU request: use 1-100"
            )


@dataclass(frozen=True)
class AvailabilitySpec:
    """Disruption budget, spreading, autoscaling and the shutdown timing of the gateway.

    With more than one replica the gateway gets a PodDisruptionBudget (at most
    ``max_unavailable`` pods evicted at a time) and spreads its pods across nodes
    (``kubernetes.io/hostname``), and across zones too when ``spread_across_zones``.
    ``autoscaling`` adds a CPU HorizontalPodAutoscaler (None: a fixed replica count).

    Shutdown: the kubelet runs the preStop hook (``sleep prestop_sleep_seconds``) while the
    endpoint controllers take the pod out of the Service, then sends SIGTERM; the proxy stops
    accepting, finishes open requests and drains. How long it drains is not set here: it comes
    from the router's longest single try (``Environment.shutdown_drain_seconds``), so the answer
    in progress finishes. The grace period (``termination_grace_seconds``) covers the sleep, the
    drain and a margin, so the kubelet's SIGKILL never cuts a drain short.
    """

    max_unavailable: int = 1
    spread_across_zones: bool = False
    autoscaling: AutoscalingSpec | None = None
    prestop_sleep_seconds: int = 5

    # Time between the end of the proxy's drain and SIGKILL: process exit, lifespan teardown.
    SHUTDOWN_MARGIN_SECONDS: ClassVar[int] = 15

    def __post_init__(self) -> None:
        check_field_types(self, "AvailabilitySpec ")
        if self.max_unavailable < 1:
            raise SynthError(
                f"availability max_unavailable {self.max_unavailable} would block every node "
                "drain: use at least 1"
            )
        if self.prestop_sleep_seconds < 0:
            raise SynthError("availability prestop_sleep_seconds must be >= 0")

    def termination_grace_seconds(self, drain_seconds: int) -> int:
        """The pod's ``terminationGracePeriodSeconds`` for a proxy that drains ``drain_seconds``."""
        return self.prestop_sleep_seconds + drain_seconds + self.SHUTDOWN_MARGIN_SECONDS
