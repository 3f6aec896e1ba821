"""An app's access to the LLM gateway: its own LiteLLM virtual key, with models and limits.

Declared on the app (``ConsumerAppSpec.gateway``); the key's value lives in the SOPS file in
the app's own group under ``KEY_VARIABLE``; the key reconciler (``lib/gateway_keys``) makes
LiteLLM's database match the declaration. See docs/gateway-keys.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from lib.errors import SynthError
from lib.names import is_env_var_name

# Where an app's key value lives: this key of the app's own secrets group (group = app name).
KEY_VARIABLE = "LITELLM_API_KEY"
# LiteLLM's duration syntax (litellm_core_utils/duration_parser.py): a number and s, m, h, d,
# w or mo. Zero is refused: a budget that resets continuously is no budget.
_DURATION = re.compile(r"[1-9][0-9]{0,5}(s|m|h|d|w|mo)")
# LiteLLM's built-in key alias pattern (key_management_endpoints.py, _KEY_ALIAS_PATTERN).
_ALIAS = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_\-/\.@]{0,200}[a-zA-Z0-9]")


def is_duration(text: str) -> bool:
    return _DURATION.fullmatch(text) is not None


class ClientVariables(Enum):
    """The names under which an app receives its key and the gateway's base URL.

    ``LITELLM``: ``LITELLM_API_KEY`` and ``LITELLM_BASE_URL`` (the proxy's root).
    ``OPENAI``: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` (ending in ``/v1``), which the
    OpenAI SDKs read with no code at all.
    """

    LITELLM = "litellm"
    OPENAI = "openai"

    @property
    def key_variable(self) -> str:
        return "OPENAI_API_KEY" if self is ClientVariables.OPENAI else "LITELLM_API_KEY"

    @property
    def base_url_variable(self) -> str:
        return "OPENAI_BASE_URL" if self is ClientVariables.OPENAI else "LITELLM_BASE_URL"

    @property
    def base_url_path(self) -> str:
        return "/v1" if self is ClientVariables.OPENAI else ""


@dataclass(frozen=True)
class GatewayAccess:
    """What an app may do through the gateway; each field becomes a field of its LiteLLM key.

    ``models``: the model names (of the environment's ``proxy.models``) the key may call; at
    least one. ``max_budget_usd``: spend limit in US dollars per ``budget_duration`` (LiteLLM's
    syntax: ``30d``, ``12h``, ``1mo``); ``None``: no budget. ``rpm_limit``/``tpm_limit``:
    requests and tokens per minute; ``None``: unlimited. ``metadata``: extra key metadata
    (string values), restored like every other field.
    ``variables``: the names the app receives (``ClientVariables.LITELLM`` or ``OPENAI``).
    ``alias``: the key's alias in LiteLLM and its label in the metrics; default the app name.
    ``rotation_grace``: after the value changes, how long the old key keeps working so that
    running pods are never refused before they restart with the new one.
    ``budget_alert_ratio``: with metrics, alert when this share of the budget is spent.
    """

    models: tuple[str, ...]
    max_budget_usd: float | None = None
    budget_duration: str | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    variables: ClientVariables = ClientVariables.LITELLM
    alias: str | None = None
    rotation_grace: str = "1h"
    budget_alert_ratio: float = 0.8

    def __post_init__(self) -> None:
        what = "GatewayAccess"
        if isinstance(self.models, str) or not self.models:
            raise SynthError(
                f"{what} models must be a non-empty tuple of model names, e.g. ('gpt-4o-mini',)"
            )
        if len(set(self.models)) != len(self.models):
            raise SynthError(f"{what} models {list(self.models)} names a model twice")
        budget = self.max_budget_usd
        if budget is not None and (isinstance(budget, bool) or not budget > 0):
            raise SynthError(f"{what} max_budget_usd {budget} must be positive (US dollars)")
        if budget is None and self.budget_duration is not None:
            raise SynthError(f"{what} budget_duration needs a max_budget_usd to reset")
        if self.budget_duration is not None and not is_duration(self.budget_duration):
            raise SynthError(
                f"{what} budget_duration '{self.budget_duration}' is not in LiteLLM's syntax: a "
                "number and s, m, h, d, w or mo, e.g. '30d'"
            )
        for name, limit in (("rpm_limit", self.rpm_limit), ("tpm_limit", self.tpm_limit)):
            if limit is not None and (not isinstance(limit, int) or limit < 1):
                raise SynthError(f"{what} {name} {limit} must be a positive whole number")
        if not is_duration(self.rotation_grace):
            raise SynthError(
                f"{what} rotation_grace '{self.rotation_grace}' is not in LiteLLM's syntax, "
                "e.g. '1h'"
            )
        if not 0 < self.budget_alert_ratio < 1:
            raise SynthError(f"{what} budget_alert_ratio must be between 0 and 1, e.g. 0.8")
        if self.alias is not None and _ALIAS.fullmatch(self.alias) is None:
            raise SynthError(
                f"{what} alias '{self.alias}' must be letters, digits and _-/.@, starting and "
                "ending with a letter or digit"
            )
        if not isinstance(self.metadata, Mapping) or not all(
            is_env_var_name(key) and isinstance(value, str) for key, value in self.metadata.items()
        ):
            raise SynthError(
                f"{what} metadata must map identifier-like names to strings, e.g. "
                "{'team': 'support'}"
            )
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def alias_for(self, app: str) -> str:
        return self.alias or app
