"""The proxy config as typed values, rendered into LiteLLM's ``config.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lib.secrets.model import MASTER_KEY
from lib.specs.cache import CacheSpec
from lib.specs.redis import HOST_VARIABLE, PORT_VARIABLE, RedisConnection
from lib.specs.router import RouterSpec

ENV_REFERENCE_PREFIX = "os.environ/"
# The only strategy of LiteLLM 1.106.12 that refuses calls over a model's rpm/tpm (counted in
# Redis across processes); the others use rpm/tpm as routing weights only.
RATE_LIMITING_STRATEGY = "usage-based-routing-v2"
TYPED_MODEL_LIMITS = ("rpm", "tpm", "timeout", "stream_timeout")


@dataclass(frozen=True)
class ModelSpec:
    """One entry of LiteLLM's ``model_list``.

    ``name``: what clients ask for (``model_name``). ``model``: ``provider/model`` as LiteLLM
    routes it. ``api_base``: a custom upstream URL. ``api_key_env``: the variable holding this
    model's key, rendered as ``api_key: os.environ/<name>``; when unset LiteLLM falls back to
    the provider's variable (``OPENAI_API_KEY`` for ``openai/``). ``rpm``/``tpm``: requests and
    tokens per minute this model may use across all proxy processes (shared through Redis).
    ``timeout``/``stream_timeout``: seconds a call (a streaming call) may take before it fails
    over. ``extra_params``: any other ``litellm_params``, passed through; a key there that a
    typed field renders is refused.
    """

    name: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    timeout: float | None = None
    stream_timeout: float | None = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)

    def typed_params(self) -> dict[str, Any]:
        """The ``litellm_params`` the typed fields render."""
        params: dict[str, Any] = {"model": self.model}
        if self.api_base is not None:
            params["api_base"] = self.api_base
        if self.api_key_env is not None:
            params["api_key"] = f"{ENV_REFERENCE_PREFIX}{self.api_key_env}"
        for name in TYPED_MODEL_LIMITS:
            if (value := getattr(self, name)) is not None:
                params[name] = value
        return params

    def litellm_params(self) -> dict[str, Any]:
        return {**self.typed_params(), **_plain(self.extra_params)}

    @property
    def rate_limited(self) -> bool:
        return self.rpm is not None or self.tpm is not None


@dataclass(frozen=True)
class ProxyConfigSpec:
    """Everything in ``config.yaml``.

    ``router``: retries, timeouts, fallbacks. ``cache``: the response cache (``None``: off);
    it needs ``redis``. ``litellm_settings`` and ``router_settings`` are passed through as
    given, for settings this project does not model; a key there that a typed field renders is
    refused. ``redis`` and ``prometheus`` come from the environment (its Redis and metrics) and
    are filled in by ``Environment.proxy_config()``.
    """

    models: tuple[ModelSpec, ...]
    router: RouterSpec = field(default_factory=RouterSpec)
    cache: CacheSpec | None = None
    litellm_settings: Mapping[str, Any] = field(default_factory=dict)
    router_settings: Mapping[str, Any] = field(default_factory=dict)
    redis: RedisConnection | None = None
    prometheus: bool = False

    def typed_general_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"master_key": f"{ENV_REFERENCE_PREFIX}{MASTER_KEY}"}
        if self.redis is not None:
            # Cross-process rate limits, routing usage and cooldowns. An explicit block wins
            # over LiteLLM's guess from REDIS_* variables; a malformed block (no host) stops
            # the start, but an unreachable Redis does not: the proxy logs "Error connecting to
            # Sync Redis client", stays ready and counts per process (docs/scaling.md, "When Redis
            # is required", says what to watch).
            settings["coordination_redis"] = self._redis_params()
        return settings

    def typed_litellm_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        if self.cache is not None:
            settings["cache"] = True
            settings["cache_params"] = {
                "type": "redis",
                **self._redis_params(),
                "ttl": self.cache.ttl_seconds,
                "supported_call_types": list(self.cache.call_types),
            }
        if self.prometheus:
            settings["callbacks"] = ["prometheus"]
        return settings

    def typed_router_settings(self) -> dict[str, Any]:
        router = self.router
        settings: dict[str, Any] = {}
        if any(model.rate_limited for model in self.models):
            settings["routing_strategy"] = RATE_LIMITING_STRATEGY
        for name in ("num_retries", "timeout", "allowed_fails", "cooldown_time"):
            if (value := getattr(router, name)) is not None:
                settings[name] = value
        for name in ("fallbacks", "context_window_fallbacks"):
            if table := getattr(router, name):
                settings[name] = [{model: list(targets)} for model, targets in table.items()]
        return settings

    def _redis_params(self) -> dict[str, Any]:
        redis = self.redis
        if redis is None:  # the checks refuse a cache without Redis before rendering
            return {}
        params: dict[str, Any] = {
            "host": f"{ENV_REFERENCE_PREFIX}{HOST_VARIABLE}",
            "port": f"{ENV_REFERENCE_PREFIX}{PORT_VARIABLE}",
        }
        if redis.password_variable is not None:
            params["password"] = f"{ENV_REFERENCE_PREFIX}{redis.password_variable}"
        if redis.tls:
            params["ssl"] = True
        if redis.db:
            params["db"] = redis.db
        return params

    def as_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "model_list": [
                {"model_name": model.name, "litellm_params": model.litellm_params()}
                for model in self.models
            ],
            "general_settings": self.typed_general_settings(),
        }
        litellm_settings = {**_plain(self.litellm_settings), **self.typed_litellm_settings()}
        if litellm_settings:
            document["litellm_settings"] = litellm_settings
        router_settings = {**_plain(self.router_settings), **self.typed_router_settings()}
        if router_settings:
            document["router_settings"] = router_settings
        return document

    def render(self) -> str:
        """``config.yaml`` text; the same spec always renders to the same bytes."""
        return yaml.safe_dump(self.as_document(), sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    """Mappings (possibly read-only proxies) as plain dicts, so YAML can dump them."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
