"""The typed router, limits and cache: rendered as LiteLLM reads them, refused when wrong."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import yaml

from lib.errors import SynthError
from lib.proxy_config.checks import check_proxy_config
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.specs.cache import CacheSpec
from lib.specs.redis import ExistingRedis, InClusterValkey, connection_of
from lib.specs.router import RouterSpec

WHERE = "lib/environments.py, environment 'dev'"
HINT = "add it to group 'litellm' with `sops secrets/secrets.yaml`"
POD_KEYS = (
    "LITELLM_MASTER_KEY",
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
)
MODELS = (
    ModelSpec("gpt", "openai/gpt-4o-mini"),
    ModelSpec("mini", "openai/gpt-4.1-mini"),
    ModelSpec("default", "openrouter/openai/gpt-4o-mini"),
)
REDIS = connection_of(InClusterValkey())


def spec(**fields: Any) -> ProxyConfigSpec:
    return ProxyConfigSpec(models=fields.pop("models", MODELS), **fields)


def error_of(config: ProxyConfigSpec) -> str:
    with pytest.raises(SynthError) as caught:
        check_proxy_config(config, POD_KEYS, where=WHERE, secrets_hint=HINT)
    return str(caught.value)


def document(config: ProxyConfigSpec) -> dict[str, Any]:
    check_proxy_config(config, POD_KEYS, where=WHERE, secrets_hint=HINT)
    loaded: dict[str, Any] = yaml.safe_load(config.render())
    return loaded


def test_routing_typed_fields_render_where_litellm_reads_them() -> None:
    config = spec(
        models=(
            ModelSpec("gpt", "openai/gpt-4o-mini", rpm=60, tpm=10000, timeout=30, stream_timeout=9),
            *MODELS[1:],
        ),
        router=RouterSpec(
            num_retries=2,
            timeout=50,
            fallbacks={"gpt": ("mini", "default")},
            context_window_fallbacks={"mini": ("default",)},
            allowed_fails=3,
            cooldown_time=0,
        ),
        cache=CacheSpec(ttl_seconds=60, call_types=("acompletion",)),
        redis=REDIS,
        prometheus=True,
    )
    rendered = document(config)
    assert rendered["model_list"][0]["litellm_params"] == {
        "model": "openai/gpt-4o-mini",
        "rpm": 60,
        "tpm": 10000,
        "timeout": 30,
        "stream_timeout": 9,
    }
    assert rendered["router_settings"] == {
        "routing_strategy": "usage-based-routing-v2",
        "num_retries": 2,
        "timeout": 50,
        "allowed_fails": 3,
        "cooldown_time": 0,
        "fallbacks": [{"gpt": ["mini", "default"]}],
        "context_window_fallbacks": [{"mini": ["default"]}],
    }
    redis_refs = {
        "host": "os.environ/REDIS_HOST",
        "port": "os.environ/REDIS_PORT",
        "password": "os.environ/REDIS_PASSWORD",
    }
    assert rendered["litellm_settings"] == {
        "cache": True,
        "cache_params": {
            "type": "redis",
            **redis_refs,
            "ttl": 60,
            "supported_call_types": ["acompletion"],
        },
        "callbacks": ["prometheus"],
    }
    assert rendered["general_settings"]["coordination_redis"] == redis_refs


def test_routing_nothing_typed_renders_nothing_extra() -> None:
    rendered = document(spec())
    assert set(rendered) == {"model_list", "general_settings"}
    assert rendered["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY"}


def test_routing_existing_redis_with_tls_and_db_and_no_password() -> None:
    redis = connection_of(ExistingRedis(host="cache.example", tls=True, db=2, password_key=None))
    assert redis.plain_env() == {
        "REDIS_HOST": "cache.example",
        "REDIS_PORT": "6379",
        "REDIS_SSL": "true",
        "REDIS_DB": "2",
    }
    params = document(spec(cache=CacheSpec(), redis=redis))["litellm_settings"]["cache_params"]
    assert {key: params[key] for key in ("host", "port", "ssl", "db")} == {
        "host": "os.environ/REDIS_HOST",
        "port": "os.environ/REDIS_PORT",
        "ssl": True,
        "db": 2,
    }
    assert "password" not in params


REFUSED: dict[str, tuple[ProxyConfigSpec, str]] = {
    "unknown fallback target": (
        spec(router=RouterSpec(fallbacks={"gpt": ("gpt-5",)})),
        "router fallbacks of model 'gpt' names 'gpt-5', which is not a declared model: declare "
        "it in models or remove it from the list",
    ),
    "unknown fallback source": (
        spec(router=RouterSpec(context_window_fallbacks={"ghost": ("gpt",)})),
        "router context_window_fallbacks are set for model 'ghost', which is not a declared "
        "model: declare it in models or remove the entry",
    ),
    "self fallback": (
        spec(router=RouterSpec(fallbacks={"gpt": ("mini", "gpt")})),
        "model 'gpt' falls back to itself in router fallbacks: remove it from its own list",
    ),
    "cycle": (
        spec(
            router=RouterSpec(
                fallbacks={"gpt": ("mini",), "mini": ("default",), "default": ("gpt",)}
            )
        ),
        "router fallbacks form a cycle: gpt -> mini -> default -> gpt: a failing model 'gpt' "
        "would be retried through its own fallbacks; break the cycle",
    ),
    "empty fallback list": (
        spec(router=RouterSpec(fallbacks={"gpt": ()})),
        "router fallbacks of model 'gpt' must be a non-empty tuple of model names, tried in order",
    ),
    "a string, not a tuple": (
        spec(router=RouterSpec(fallbacks={"gpt": "mini"})),  # type: ignore[dict-item]
        "router fallbacks of model 'gpt' must be a non-empty tuple of model names, tried in order",
    ),
    "duplicate target": (
        spec(router=RouterSpec(fallbacks={"gpt": ("mini", "mini")})),
        "router fallbacks of model 'gpt' lists a model twice",
    ),
    "zero rpm": (
        spec(models=(ModelSpec("gpt", "openai/gpt-4o-mini", rpm=0),)),
        "model 'gpt' rpm is 0; use a whole number >= 1",
    ),
    "fractional tpm": (
        spec(models=(ModelSpec("gpt", "openai/gpt-4o-mini", tpm=1.5),)),  # type: ignore[arg-type]
        "model 'gpt' tpm is 1.5; use a whole number >= 1",
    ),
    "negative timeout": (
        spec(models=(ModelSpec("gpt", "openai/gpt-4o-mini", timeout=-1),)),
        "model 'gpt' timeout is -1; use a number of seconds > 0",
    ),
    "zero stream timeout": (
        spec(models=(ModelSpec("gpt", "openai/gpt-4o-mini", stream_timeout=0),)),
        "model 'gpt' stream_timeout is 0; use a number of seconds > 0",
    ),
    "boolean retries": (
        spec(router=RouterSpec(num_retries=True)),
        "router num_retries is True; use a whole number >= 0",
    ),
    "negative cooldown": (
        spec(router=RouterSpec(cooldown_time=-5)),
        "router cooldown_time is -5; use a number of seconds >= 0",
    ),
    "cache without redis": (
        spec(cache=CacheSpec()),
        "the response cache needs Redis, and the environment has none: set the environment's "
        "redis (ExistingRedis or InClusterValkey) or turn the cache off",
    ),
    "unknown call type": (
        spec(cache=CacheSpec(call_types=("chat",)), redis=REDIS),
        "cache call_types ['chat'] must name LiteLLM call types it can cache: aanthropic_messages, "
        "acompletion, aembedding, anthropic_messages, arerank, aresponses, atext_completion, "
        "atranscription, completion, embedding, rerank, responses, text_completion, transcription",
    ),
    "typed field also in extra_params": (
        spec(models=(ModelSpec("gpt", "openai/gpt-4o-mini", rpm=5, extra_params={"rpm": 9}),)),
        "model 'gpt' sets 'rpm' in extra_params and as a typed field: remove it from "
        "extra_params and keep the field",
    ),
    "fallbacks passed through": (
        spec(router_settings={"fallbacks": [{"gpt": ["mini"]}]}),
        "router_settings 'fallbacks' is a typed setting here: set router.fallbacks instead and "
        "remove it from router_settings",
    ),
    "cache passed through": (
        spec(litellm_settings={"cache": True}),
        "litellm_settings 'cache' is a typed setting here: set cache instead and remove it from "
        "litellm_settings",
    ),
    "retries passed through in litellm_settings": (
        spec(litellm_settings={"num_retries": 3}),
        "litellm_settings 'num_retries' is a typed setting here: set router.num_retries instead "
        "and remove it from litellm_settings",
    ),
    "redis passed through": (
        spec(router_settings={"redis_host": "elsewhere"}),
        "router_settings 'redis_host' is a typed setting here: set the environment's redis "
        "instead and remove it from router_settings",
    ),
    "routing strategy that ignores rpm": (
        spec(
            models=(ModelSpec("gpt", "openai/gpt-4o-mini", rpm=5),),
            router_settings={"routing_strategy": "simple-shuffle"},
        ),
        "model 'gpt' declares rpm/tpm, which only routing_strategy usage-based-routing-v2 "
        "enforces and which is then set for you: remove routing_strategy from router_settings",
    ),
    "callbacks with metrics": (
        spec(litellm_settings={"callbacks": ["langfuse"]}, prometheus=True),
        "litellm_settings 'callbacks' conflicts with the environment's metrics, which set "
        "callbacks to [prometheus]: remove it from litellm_settings",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_routing_refused_with_one_line_naming_it(case: str) -> None:
    config, message = REFUSED[case]
    assert error_of(config) == f"{WHERE}: {message}"


def test_routing_callbacks_pass_through_without_metrics() -> None:
    config = spec(litellm_settings={"callbacks": ["langfuse"]})
    assert document(config)["litellm_settings"] == {"callbacks": ["langfuse"]}


def test_routing_fallback_chains_without_a_cycle_are_fine() -> None:
    chain = RouterSpec(fallbacks={"gpt": ("mini", "default"), "mini": ("default",)})
    assert document(spec(router=chain))["router_settings"]["fallbacks"] == [
        {"gpt": ["mini", "default"]},
        {"mini": ["default"]},
    ]


def test_routing_cache_reads_only_variables_the_pod_gets() -> None:
    """The existing reference check covers the Redis variables too."""
    config = spec(cache=CacheSpec(), redis=REDIS)
    with pytest.raises(SynthError) as caught:
        check_proxy_config(
            config,
            tuple(key for key in POD_KEYS if key != "REDIS_PASSWORD"),
            where=WHERE,
            secrets_hint=HINT,
        )
    assert "reads os.environ/REDIS_PASSWORD, but the LiteLLM pod does not receive" in str(
        caught.value
    )


def test_routing_render_is_deterministic() -> None:
    config = spec(router=RouterSpec(fallbacks={"gpt": ("mini",)}), cache=CacheSpec(), redis=REDIS)
    assert config.render() == replace(config).render()
