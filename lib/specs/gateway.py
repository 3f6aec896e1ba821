"""The LiteLLM gateway's own deployment settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from lib.errors import SynthError
from lib.litellm_runtime import TMP_MOUNT
from lib.specs.availability import AvailabilitySpec
from lib.specs.image import ImageRef

# Uploads of the largest allowed size that the proxy's /tmp must hold at once: starlette spools
# every file part over 1 MiB there until the request ends.
SPOOLED_UPLOADS_IN_FLIGHT = 8


@dataclass(frozen=True)
class GatewaySpec:
    """How the LiteLLM proxy runs in one environment.

    ``image``: the pinned LiteLLM image (the non-root variant: the pod runs as the image's
    numeric user under Pod Security "restricted"). ``replicas``: pod count, and the floor of
    the autoscaler if ``availability`` has one. ``workers``: proxy worker processes per pod
    (LiteLLM's ``--num_workers``); more than one replica or worker needs a shared Redis for rate
    limits, cooldowns and caching to hold across processes. ``availability``: disruption
    budget, spreading, autoscaling and shutdown timing. ``max_request_body_mib``: the largest
    request body the ingress passes to the proxy (ingress-nginx's ``proxy-body-size``; its own
    default, 1m, refuses large prompts, images and audio with 413). 25 MiB covers OpenAI's
    25 MB audio upload limit; file parts over 1 MiB spool to the proxy's ``/tmp``, which must
    hold several at once (checked per environment).
    """

    image: ImageRef
    replicas: int = 1
    workers: int = 1
    availability: AvailabilitySpec = field(default_factory=AvailabilitySpec)
    max_request_body_mib: int = 25

    def check(self, where: str) -> None:
        """Refuse counts no rollout, drain or upload could live with; ``where`` names the
        environment in the message."""
        if self.replicas < 1 or self.workers < 1:
            raise SynthError(f"{where}: gateway replicas and workers must be at least 1")
        availability = self.availability
        if self.replicas > 1 and availability.max_unavailable >= self.replicas:
            raise SynthError(
                f"{where}: gateway availability max_unavailable {availability.max_unavailable} "
                f"lets all {self.replicas} replicas go at once: use less than replicas"
            )
        if availability.autoscaling and availability.autoscaling.max_replicas < self.replicas:
            raise SynthError(
                f"{where}: gateway autoscaling max_replicas "
                f"{availability.autoscaling.max_replicas} is below replicas {self.replicas}"
            )
        body_mib = self.max_request_body_mib
        most = TMP_MOUNT.size_limit_mib // SPOOLED_UPLOADS_IN_FLIGHT
        if isinstance(body_mib, bool) or not isinstance(body_mib, int) or not 1 <= body_mib <= most:
            raise SynthError(
                f"{where}: gateway max_request_body_mib {body_mib} must be 1-{most}: uploads "
                f"over 1 MiB spool to the proxy's /tmp emptyDir ({TMP_MOUNT.size_limit_mib}Mi, "
                "TMP_MOUNT in lib/litellm_runtime.py), which must hold "
                f"{SPOOLED_UPLOADS_IN_FLIGHT} of them at once; raise its size_limit_mib with the "
                "body size"
            )
