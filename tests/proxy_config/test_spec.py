"""Rendering config.yaml."""

from __future__ import annotations

import yaml

from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec


def test_spec_renders_models_master_key_and_passthrough_settings() -> None:
    spec = ProxyConfigSpec(
        models=(
            ModelSpec("gpt", "openai/gpt-4o-mini"),
            ModelSpec(
                "local",
                "openai/qwen",
                api_base="http://vllm:8000/v1",
                api_key_env="VLLM_API_KEY",
                extra_params={"rpm": 60},
            ),
        ),
        litellm_settings={"drop_params": True},
        router_settings={"routing_strategy": "simple-shuffle"},
    )
    assert yaml.safe_load(spec.render()) == {
        "model_list": [
            {"model_name": "gpt", "litellm_params": {"model": "openai/gpt-4o-mini"}},
            {
                "model_name": "local",
                "litellm_params": {
                    "model": "openai/qwen",
                    "api_base": "http://vllm:8000/v1",
                    "api_key": "os.environ/VLLM_API_KEY",
                    "rpm": 60,
                },
            },
        ],
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        "litellm_settings": {"drop_params": True},
        "router_settings": {"routing_strategy": "simple-shuffle"},
    }


def test_spec_renders_identically_every_time() -> None:
    def make() -> ProxyConfigSpec:
        return ProxyConfigSpec(models=(ModelSpec("gpt", "openai/gpt-4o-mini"),))

    assert make().render() == make().render()
    assert "litellm_settings" not in make().render()
