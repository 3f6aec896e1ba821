"""Response caching: identical requests answered from Redis instead of the provider."""

from __future__ import annotations

from dataclasses import dataclass

# LiteLLM's call types; the chat and text completions, sync and async, by default.
DEFAULT_CALL_TYPES = ("acompletion", "completion", "atext_completion", "text_completion")


@dataclass(frozen=True)
class CacheSpec:
    """Turns on LiteLLM's response cache in the environment's Redis (``litellm_settings.cache``).

    ``ttl_seconds``: how long an answer is reused. ``call_types``: which calls are cached
    (LiteLLM's ``supported_call_types``, e.g. ``acompletion``, ``aembedding``).
    """

    ttl_seconds: int = 600
    call_types: tuple[str, ...] = DEFAULT_CALL_TYPES
