"""The proxy config checked against the keys that really reach the LiteLLM pod.

LiteLLM boots happily when a key its config names is missing: the first request then fails,
or, for an OpenAI-compatible model with a custom ``api_base`` and no key of its own, the proxy
quietly sends ``OPENAI_API_KEY`` to that upstream. Its own ``--validate_config`` catches
neither, so this module does, at synth time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any
from urllib.parse import urlsplit

from lib.errors import SynthError
from lib.names import is_env_var_name
from lib.proxy_config.litellm_providers import LITELLM_PROVIDERS, LITELLM_RELEASE
from lib.proxy_config.providers import PROVIDER_KEY_VARIABLES, provider_of
from lib.proxy_config.routing_checks import check_routing
from lib.proxy_config.spec import ENV_REFERENCE_PREFIX, ModelSpec, ProxyConfigSpec
from lib.secrets.model import MASTER_KEY

# Setting names whose value is a credential: it must come from the secrets, never be literal.
_CREDENTIAL_SUFFIXES = ("key", "token", "secret", "password")


@dataclass(frozen=True)
class KeyReport:
    """Names only, never values.

    ``configured``: provider keys the LiteLLM pod receives. ``providers_without_key``: providers
    used by models that get no key; only providers this project does not know can be here,
    since a known provider without its key fails the synth.
    """

    configured: tuple[str, ...]
    providers_without_key: tuple[str, ...]

    def line(self) -> str:
        configured = ", ".join(self.configured) or "none"
        missing = ", ".join(self.providers_without_key) or "none"
        return f"LLM API keys configured: {configured}; model providers with no key: {missing}"


def check_proxy_config(
    spec: ProxyConfigSpec, pod_keys: Sequence[str], *, where: str, secrets_hint: str
) -> KeyReport:
    """Refuse a config that names a variable the pod does not get; report the keys it does get.

    ``pod_keys``: every variable of the LiteLLM container (secrets and plain env).
    ``where``: where the config is defined, for messages. ``secrets_hint``: how to add a key.
    """
    available = set(pod_keys)
    for model in spec.models:
        _check_model_shape(model, where)
    check_routing(spec, where)
    for path, value in _strings(spec.as_document(), ()):
        if value.startswith(ENV_REFERENCE_PREFIX):
            variable = value[len(ENV_REFERENCE_PREFIX) :]
            if variable not in available:
                raise SynthError(
                    f"{where}: {_describe(path, spec)} reads os.environ/{variable}, but the "
                    f"LiteLLM pod does not receive {variable}: {secrets_hint}, or change the "
                    "reference"
                )
        elif _is_credential_setting(path) and value:
            raise SynthError(
                f"{where}: {_describe(path, spec)} holds a literal credential: put it in the "
                f"secrets file and reference it as os.environ/NAME"
            )
    providers_without_key: list[str] = []
    for model in spec.models:
        if model.api_key_env is not None:
            continue  # checked above as an os.environ/ reference
        provider = provider_of(model.model) or ""
        needed = PROVIDER_KEY_VARIABLES.get(provider)
        if needed is None:
            if provider not in providers_without_key:
                providers_without_key.append(provider)
        elif not available.intersection(needed):
            raise SynthError(
                f"{where}: model '{model.name}' ({model.model}) needs {' or '.join(needed)}, "
                f"which the LiteLLM pod does not receive: {secrets_hint}, or set the model's "
                "api_key_env"
            )
    provider_variables = {name for names in PROVIDER_KEY_VARIABLES.values() for name in names}
    configured = tuple(
        sorted(
            key
            for key in available
            if key != MASTER_KEY
            and (key in provider_variables or key.endswith(("_API_KEY", "_API_TOKEN")))
        )
    )
    return KeyReport(configured=configured, providers_without_key=tuple(providers_without_key))


def _check_model_shape(model: ModelSpec, where: str) -> None:
    name = f"model '{model.name}'"
    provider = provider_of(model.model)
    if provider is None:
        raise SynthError(
            f"{where}: {name} has model '{model.model}' without a provider: write it as "
            "provider/model (e.g. openai/gpt-4o-mini) so its key can be checked"
        )
    if provider not in LITELLM_PROVIDERS:
        # LiteLLM starts with it and fails the first request: "LLM Provider NOT provided".
        close = get_close_matches(provider, sorted(LITELLM_PROVIDERS), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use one of its providers"
        raise SynthError(
            f"{where}: {name} has model '{model.model}', whose provider '{provider}' LiteLLM "
            f"{LITELLM_RELEASE} does not know: {hint} (the list: "
            "lib/proxy_config/litellm_providers.py)"
        )
    if model.api_key_env is not None and not is_env_var_name(model.api_key_env):
        raise SynthError(
            f"{where}: {name} has api_key_env '{model.api_key_env}', which is not an "
            "environment variable name"
        )
    if model.api_base is not None and _has_user_info(model.api_base):
        # Never echo the URL: its user-info part is a credential.
        raise SynthError(
            f"{where}: {name} has credentials inside its api_base URL: remove them and put the "
            "key in the secrets file, referenced with api_key_env"
        )
    if model.api_base is not None and model.api_key_env is None:
        # LiteLLM would send the provider's default key (e.g. OPENAI_API_KEY) to this URL.
        raise SynthError(
            f"{where}: {name} sends requests to {model.api_base} but names no api_key_env, so "
            "LiteLLM would send the provider's default key there: set api_key_env to the key "
            "meant for that upstream"
        )


def _has_user_info(url: str) -> bool:
    try:
        return urlsplit(url).username is not None
    except ValueError:  # a malformed URL: LiteLLM will refuse it; nothing to hide in it here
        return "@" in url


def _strings(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _strings(item, (*path, str(index)))
    elif isinstance(node, str):
        yield path, node


def _is_credential_setting(path: tuple[str, ...]) -> bool:
    return bool(path) and path[-1].lower().endswith(_CREDENTIAL_SUFFIXES)


def _describe(path: tuple[str, ...], spec: ProxyConfigSpec) -> str:
    if len(path) >= 2 and path[0] == "model_list":
        model = spec.models[int(path[1])]
        return f"model '{model.name}' ({'.'.join(path[2:])})"
    return "setting " + ".".join(path)
