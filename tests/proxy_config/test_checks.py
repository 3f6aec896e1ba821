"""The proxy config checked against the keys that reach the LiteLLM pod."""

from __future__ import annotations

import pytest

from lib.errors import SynthError
from lib.proxy_config.checks import KeyReport, check_proxy_config
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec

WHERE = "lib/environments.py, environment 'dev'"
HINT = "add it to group 'litellm' with `sops secrets/secrets.yaml`"
POD_KEYS = ("LITELLM_MASTER_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "STRIPE_PRICE_ID")


def check(spec: ProxyConfigSpec, keys: tuple[str, ...] = POD_KEYS) -> KeyReport:
    return check_proxy_config(spec, keys, where=WHERE, secrets_hint=HINT)


def error_of(spec: ProxyConfigSpec, keys: tuple[str, ...] = POD_KEYS) -> str:
    with pytest.raises(SynthError) as caught:
        check(spec, keys)
    return str(caught.value)


def test_checks_report_names_configured_keys_only() -> None:
    spec = ProxyConfigSpec(models=(ModelSpec("gpt", "openai/gpt-4o-mini"),))
    report = check(spec)
    assert report == KeyReport(
        configured=("ANTHROPIC_API_KEY", "OPENAI_API_KEY"), providers_without_key=()
    )
    assert report.line() == (
        "LLM API keys configured: ANTHROPIC_API_KEY, OPENAI_API_KEY; "
        "model providers with no key: none"
    )


def test_checks_unknown_provider_is_reported_not_refused() -> None:
    spec = ProxyConfigSpec(models=(ModelSpec("local", "ollama/llama3"),))
    assert check(spec).providers_without_key == ("ollama",)


def test_checks_provider_key_missing_from_the_pod() -> None:
    spec = ProxyConfigSpec(models=(ModelSpec("llama", "groq/llama-3.1-8b-instant"),))
    assert error_of(spec) == (
        f"{WHERE}: model 'llama' (groq/llama-3.1-8b-instant) needs GROQ_API_KEY, which the "
        f"LiteLLM pod does not receive: {HINT}, or set the model's api_key_env"
    )


def test_checks_env_reference_missing_from_the_pod() -> None:
    spec = ProxyConfigSpec(
        models=(ModelSpec("router", "openrouter/auto", api_key_env="OPENROUTER_API_KEY"),)
    )
    assert error_of(spec) == (
        f"{WHERE}: model 'router' (litellm_params.api_key) reads os.environ/OPENROUTER_API_KEY, "
        f"but the LiteLLM pod does not receive OPENROUTER_API_KEY: {HINT}, or change the reference"
    )


def test_checks_env_reference_anywhere_in_passthrough_settings() -> None:
    spec = ProxyConfigSpec(
        models=(ModelSpec("gpt", "openai/gpt-4o-mini"),),
        litellm_settings={
            "s3_callback_params": {"s3_aws_secret_access_key": "os.environ/AWS_SECRET_KEY"}
        },
    )
    assert error_of(spec).startswith(
        f"{WHERE}: setting litellm_settings.s3_callback_params.s3_aws_secret_access_key reads "
        "os.environ/AWS_SECRET_KEY"
    )


def test_checks_master_key_reference_needs_the_master_key() -> None:
    spec = ProxyConfigSpec(models=(ModelSpec("gpt", "openai/gpt-4o-mini"),))
    message = error_of(spec, ("OPENAI_API_KEY",))
    assert "setting general_settings.master_key reads os.environ/LITELLM_MASTER_KEY" in message


def test_checks_literal_credential_in_settings_is_refused() -> None:
    spec = ProxyConfigSpec(
        models=(ModelSpec("gpt", "openai/gpt-4o-mini", extra_params={"api_key": "sk-literal"}),)
    )
    message = error_of(spec)
    assert message == (
        f"{WHERE}: model 'gpt' (litellm_params.api_key) holds a literal credential: put it in "
        "the secrets file and reference it as os.environ/NAME"
    )
    assert "sk-literal" not in message


def test_checks_custom_api_base_needs_its_own_key() -> None:
    spec = ProxyConfigSpec(
        models=(ModelSpec("local", "openai/qwen", api_base="http://vllm:8000/v1"),)
    )
    assert error_of(spec) == (
        f"{WHERE}: model 'local' sends requests to http://vllm:8000/v1 but names no api_key_env, "
        "so LiteLLM would send the provider's default key there: set api_key_env to the key "
        "meant for that upstream"
    )


def test_checks_model_without_provider_is_refused() -> None:
    spec = ProxyConfigSpec(models=(ModelSpec("gpt", "gpt-4o"),))
    assert "has model 'gpt-4o' without a provider: write it as provider/model" in error_of(spec)


def test_checks_plain_env_counts_as_received() -> None:
    spec = ProxyConfigSpec(
        models=(ModelSpec("gpt", "openai/gpt-4o-mini"),),
        litellm_settings={"root": "os.environ/SERVER_ROOT_PATH"},
    )
    check(spec, (*POD_KEYS, "SERVER_ROOT_PATH"))


def test_checks_credentials_in_api_base_are_refused_without_echoing_them() -> None:
    spec = ProxyConfigSpec(
        models=(
            ModelSpec(
                "local",
                "openai/qwen",
                api_base="https://admin:hunter2-secret@vllm.example:8000/v1",
                api_key_env="OPENAI_API_KEY",
            ),
        )
    )
    message = error_of(spec)
    assert message == (
        f"{WHERE}: model 'local' has credentials inside its api_base URL: remove them and put "
        "the key in the secrets file, referenced with api_key_env"
    )
    assert "hunter2" not in message
