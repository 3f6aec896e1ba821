"""The LiteLLM gateway's own deployment settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from lib.specs.availability import AvailabilitySpec
from lib.specs.image import ImageRef


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
