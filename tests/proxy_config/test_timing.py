"""The worst case of one request through the router, from which the ingress timeouts come."""

from __future__ import annotations

import pytest

from lib.environments import ENVIRONMENTS
from lib.errors import SynthError
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.proxy_config.timing import worst_case_seconds
from lib.specs.router import RouterSpec

WHERE = "lib/environments.py, environment 'dev'"


def test_timing_shipped_environments_by_hand() -> None:
    # num_retries 2: three tries and two waits of up to 61 s (Retry-After <= 60 s + jitter).
    # claude-sonnet (120 s) then its fallback openrouter-default (60 s) is the slowest chain:
    # (3 x 120 + 2 x 61) + (3 x 60 + 2 x 61) = 784 s, plus the proxy's 10 s.
    for environment in ENVIRONMENTS.values():
        assert worst_case_seconds(environment.proxy_config(), WHERE) == 794
        assert environment.request_timeout_seconds() == 794


def test_timing_counts_every_reachable_model_once() -> None:
    """A -> B, A -> C, B -> C: a request to A tries A, B and C once each (LiteLLM records the
    fallback targets it has attempted), through context-window fallbacks too."""
    config = ProxyConfigSpec(
        models=(
            ModelSpec("a", "openai/a", timeout=10),
            ModelSpec("b", "openai/b", timeout=20),
            ModelSpec("c", "openai/c", timeout=40),
            ModelSpec("d", "openai/d", timeout=1000),
        ),
        router=RouterSpec(
            num_retries=0,
            fallbacks={"a": ("b", "c"), "b": ("c",)},
            context_window_fallbacks={"c": ("d",)},
        ),
    )
    assert worst_case_seconds(config, WHERE) == 10 + 20 + 40 + 1000 + 10


def test_timing_defaults_are_litellms() -> None:
    # No timeout anywhere: LiteLLM's request_timeout, 6000 s; no num_retries: the Router's 2.
    config = ProxyConfigSpec(models=(ModelSpec("gpt", "openai/gpt-4o-mini"),))
    assert worst_case_seconds(config, WHERE) == 3 * 6000 + 2 * 61 + 10
    # The router's timeout applies to models without their own; stream_timeout when longer.
    config = ProxyConfigSpec(
        models=(
            ModelSpec("gpt", "openai/gpt-4o-mini"),
            ModelSpec("slow-stream", "openai/o1", timeout=30, stream_timeout=90),
        ),
        router=RouterSpec(num_retries=1, timeout=50),
    )
    assert worst_case_seconds(config, WHERE) == 2 * 90 + 61 + 10


def test_timing_pass_through_settings_count() -> None:
    config = ProxyConfigSpec(
        models=(
            ModelSpec("gpt", "openai/gpt-4o-mini", extra_params={"num_retries": 4}, timeout=10),
            ModelSpec("safe", "openai/safe", timeout=5),
            ModelSpec("last", "openai/last", timeout=7),
        ),
        router=RouterSpec(num_retries=0),
        router_settings={
            "content_policy_fallbacks": [{"gpt": ["safe"]}],
            "default_fallbacks": ["last"],
        },
    )
    assert worst_case_seconds(config, WHERE) == (5 * 10 + 4 * 61) + 5 + 7 + 10


def test_timing_refuses_a_timeout_it_cannot_read() -> None:
    config = ProxyConfigSpec(
        models=(ModelSpec("gpt", "openai/gpt-4o-mini", extra_params={"timeout": "1m"}),)
    )
    with pytest.raises(SynthError) as raised:
        worst_case_seconds(config, WHERE)
    assert str(raised.value) == (
        f"{WHERE}: model 'gpt' has timeout '1m', not a number >= 0: the ingress timeouts are "
        "derived from it; write it as a number"
    )
