"""The proxy config as typed values, rendered into LiteLLM's ``config.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lib.secrets.model import MASTER_KEY

ENV_REFERENCE_PREFIX = "os.environ/"


@dataclass(frozen=True)
class ModelSpec:
    """One entry of LiteLLM's ``model_list``.

    ``name``: what clients ask for (``model_name``). ``model``: ``provider/model`` as LiteLLM
    routes it. ``api_base``: a custom upstream URL. ``api_key_env``: the variable holding this
    model's key, rendered as ``api_key: os.environ/<name>``; when unset LiteLLM falls back to
    the provider's variable (``OPENAI_API_KEY`` for ``openai/``). ``extra_params``: any other
    ``litellm_params`` (``rpm``, ``timeout``, ...), passed through.
    """

    name: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)

    def litellm_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model}
        if self.api_base is not None:
            params["api_base"] = self.api_base
        if self.api_key_env is not None:
            params["api_key"] = f"{ENV_REFERENCE_PREFIX}{self.api_key_env}"
        params.update(self.extra_params)
        return params


@dataclass(frozen=True)
class ProxyConfigSpec:
    """Everything in ``config.yaml``. ``litellm_settings`` and ``router_settings`` are passed
    through as given, for settings this project does not model."""

    models: tuple[ModelSpec, ...]
    litellm_settings: Mapping[str, Any] = field(default_factory=dict)
    router_settings: Mapping[str, Any] = field(default_factory=dict)

    def as_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "model_list": [
                {"model_name": model.name, "litellm_params": model.litellm_params()}
                for model in self.models
            ],
            "general_settings": {"master_key": f"{ENV_REFERENCE_PREFIX}{MASTER_KEY}"},
        }
        if self.litellm_settings:
            document["litellm_settings"] = _plain(self.litellm_settings)
        if self.router_settings:
            document["router_settings"] = _plain(self.router_settings)
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
