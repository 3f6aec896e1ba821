"""LiteLLM's router settings that this project models: retries, timeouts, fallbacks, cooldowns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RouterSpec:
    """Per-environment routing, rendered into ``router_settings`` (see docs/models.md, "Router
    settings"). ``None`` leaves LiteLLM's default.

    ``num_retries``: retries of a failed call on the same model before falling back.
    ``timeout``: seconds a call may take, for models without their own ``timeout``.
    ``fallbacks``: model -> models tried in order when it fails (errors, timeouts, 429s).
    ``context_window_fallbacks``: model -> models tried when a prompt is too long for it.
    ``allowed_fails``: failures per minute before a deployment is cooled down.
    ``cooldown_time``: seconds a cooled-down deployment gets no traffic.
    """

    num_retries: int | None = None
    timeout: float | None = None
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context_window_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    allowed_fails: int | None = None
    cooldown_time: float | None = None
