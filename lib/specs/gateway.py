"""The LiteLLM gateway's own deployment settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GatewaySpec:
    """How the LiteLLM proxy runs in one environment.

    ``image``: the pinned LiteLLM image. ``replicas``: pod count. ``workers``: proxy worker
    processes per pod (LiteLLM's ``--num_workers``); more than one replica or worker needs a
    shared Redis for rate limits, cooldowns and caching to hold across processes.
    """

    image: str
    replicas: int = 1
    workers: int = 1
