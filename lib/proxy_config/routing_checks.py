"""Checks of the typed router, cache and limits: each failure is one line naming the model.

A fallback to a model that does not exist, or a cache whose Redis the pod never gets, is
otherwise found at the first failing request in production: LiteLLM accepts both at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.errors import SynthError
from lib.proxy_config.spec import RATE_LIMITING_STRATEGY, ModelSpec, ProxyConfigSpec

# The call types LiteLLM 1.106.12 can cache (litellm.types.caching.CachingSupportedCallTypes).
CACHEABLE_CALL_TYPES = frozenset(
    {
        "completion",
        "acompletion",
        "embedding",
        "aembedding",
        "transcription",
        "atranscription",
        "text_completion",
        "atext_completion",
        "rerank",
        "arerank",
        "responses",
        "aresponses",
        "anthropic_messages",
        "aanthropic_messages",
    }
)
# Pass-through keys that would fight a typed field: the field wins, so the key is refused.
# litellm_settings also accepts LiteLLM's module-level twins of the router settings.
_ROUTER_OWNED = {
    "num_retries": "router.num_retries",
    "timeout": "router.timeout",
    "fallbacks": "router.fallbacks",
    "context_window_fallbacks": "router.context_window_fallbacks",
    "allowed_fails": "router.allowed_fails",
    "cooldown_time": "router.cooldown_time",
    "redis_host": "the environment's redis",
    "redis_port": "the environment's redis",
    "redis_password": "the environment's redis",
    "redis_url": "the environment's redis",
}
_LITELLM_OWNED = {
    "cache": "cache",
    "cache_params": "cache",
    "num_retries": "router.num_retries",
    "request_timeout": "router.timeout",
    "fallbacks": "router.fallbacks",
    "context_window_fallbacks": "router.context_window_fallbacks",
}
_GENERAL_OWNED = ("master_key", "coordination_redis")


def check_routing(spec: ProxyConfigSpec, where: str) -> None:
    names = {model.name for model in spec.models}
    for model in spec.models:
        _check_limits(model, where)
    router = spec.router
    _check_count(router.num_retries, "router num_retries", where, minimum=0)
    _check_count(router.allowed_fails, "router allowed_fails", where, minimum=0)
    _check_seconds(router.timeout, "router timeout", where)
    _check_seconds(router.cooldown_time, "router cooldown_time", where, allow_zero=True)
    for table_name in ("fallbacks", "context_window_fallbacks"):
        _check_fallbacks(getattr(router, table_name), table_name, names, where)
    _check_cache(spec, where)
    _check_pass_through(spec, where)


def _check_limits(model: ModelSpec, where: str) -> None:
    what = f"model '{model.name}'"
    for name in ("rpm", "tpm"):
        _check_count(getattr(model, name), f"{what} {name}", where, minimum=1)
    for name in ("timeout", "stream_timeout"):
        _check_seconds(getattr(model, name), f"{what} {name}", where)
    for key in sorted(set(model.extra_params) & set(model.typed_params())):
        raise SynthError(
            f"{where}: model '{model.name}' sets '{key}' in extra_params and as a typed field: "
            f"remove it from extra_params and keep the field"
        )


def _check_count(value: object, what: str, where: str, *, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SynthError(f"{where}: {what} is {value!r}; use a whole number >= {minimum}")


def _check_seconds(value: object, what: str, where: str, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    if not valid or value < 0 or (value == 0 and not allow_zero):  # type: ignore[operator]
        bound = ">= 0" if allow_zero else "> 0"
        raise SynthError(f"{where}: {what} is {value!r}; use a number of seconds {bound}")


def _check_fallbacks(
    table: Mapping[str, tuple[str, ...]], table_name: str, names: set[str], where: str
) -> None:
    for model, targets in table.items():
        if model not in names:
            raise SynthError(
                f"{where}: router {table_name} are set for model '{model}', which is not a "
                "declared model: declare it in models or remove the entry"
            )
        if isinstance(targets, str) or not targets:
            raise SynthError(
                f"{where}: router {table_name} of model '{model}' must be a non-empty tuple "
                "of model names, tried in order"
            )
        for target in targets:
            if target == model:
                raise SynthError(
                    f"{where}: model '{model}' falls back to itself in router {table_name}: "
                    "remove it from its own list"
                )
            if target not in names:
                raise SynthError(
                    f"{where}: router {table_name} of model '{model}' names '{target}', which "
                    "is not a declared model: declare it in models or remove it from the list"
                )
        if len(set(targets)) != len(targets):
            raise SynthError(f"{where}: router {table_name} of model '{model}' lists a model twice")
    cycle = _find_cycle(table)
    if cycle:
        raise SynthError(
            f"{where}: router {table_name} form a cycle: {' -> '.join(cycle)}: a failing "
            f"model '{cycle[0]}' would be retried through its own fallbacks; break the cycle"
        )


def _find_cycle(table: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One cycle of the fallback graph as a path that ends where it starts, or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in table.get(node, ()):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in table:
        if start not in state and (found := visit(start)):
            return found
    return []


def _check_cache(spec: ProxyConfigSpec, where: str) -> None:
    cache = spec.cache
    if cache is None:
        return
    if spec.redis is None:
        raise SynthError(
            f"{where}: the response cache needs Redis, and the environment has none: set the "
            "environment's redis (ExistingRedis or InClusterValkey) or turn the cache off"
        )
    _check_count(cache.ttl_seconds, "cache ttl_seconds", where, minimum=1)
    unknown = [call for call in cache.call_types if call not in CACHEABLE_CALL_TYPES]
    if unknown or not cache.call_types:
        raise SynthError(
            f"{where}: cache call_types {list(cache.call_types)!r} must name LiteLLM call types "
            f"it can cache: {', '.join(sorted(CACHEABLE_CALL_TYPES))}"
        )


def _check_pass_through(spec: ProxyConfigSpec, where: str) -> None:
    _refuse_owned(spec.router_settings, "router_settings", _ROUTER_OWNED, where)
    _refuse_owned(spec.litellm_settings, "litellm_settings", _LITELLM_OWNED, where)
    for key in _GENERAL_OWNED:
        if key in spec.litellm_settings or key in spec.router_settings:
            raise SynthError(f"{where}: '{key}' is set by this project; remove it")
    if "routing_strategy" in spec.router_settings:
        limited = [model.name for model in spec.models if model.rate_limited]
        if limited:
            raise SynthError(
                f"{where}: model '{limited[0]}' declares rpm/tpm, which only routing_strategy "
                f"{RATE_LIMITING_STRATEGY} enforces and which is then set for you: remove "
                "routing_strategy from router_settings"
            )
    if spec.prometheus and "callbacks" in spec.litellm_settings:
        raise SynthError(
            f"{where}: litellm_settings 'callbacks' conflicts with the environment's metrics, "
            "which set callbacks to [prometheus]: remove it from litellm_settings"
        )


def _refuse_owned(
    settings: Mapping[str, Any], section: str, owned: Mapping[str, str], where: str
) -> None:
    for key in settings:
        if key in owned:
            raise SynthError(
                f"{where}: {section} '{key}' is a typed setting here: set {owned[key]} "
                f"instead and remove it from {section}"
            )
