"""How long one request may keep the proxy working before it answers, from the router settings.

A proxy in front of LiteLLM (ingress-nginx) must wait at least that long, or it answers 504
while LiteLLM is still retrying or falling back. Read from litellm 1.106.12 (``router.py``,
``router_utils/fallback_event_handlers.py``, ``utils.calculate_retry_after``):

- one attempt on a model takes at most its ``timeout`` (``stream_timeout`` for a streaming
  call, until the first byte), else the router's ``timeout``, else LiteLLM's default
  ``request_timeout`` of 6000 s;
- a failed attempt is retried ``num_retries`` times (the Router's default: 2, the OpenAI
  client's); before each retry of a model with one deployment the router waits, honouring a
  provider's ``Retry-After`` of up to 60 s (plus up to 0.75 s of jitter), else at most 8.75 s;
- then the model's fallbacks run, each with its own retries and its own fallbacks, and each
  model at most once per request (the router records the targets it has attempted).

So the bound for a request to model M is the sum, over M and every model reachable from it
through fallbacks (of any kind), of ``(num_retries + 1) x attempt + num_retries x 61 s``; the
bound of the environment is the largest over its models, plus a margin for the proxy's own
work. A bound, not a prediction: it is reached only when every model times out on every try.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from lib.errors import SynthError
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec

# litellm.request_timeout (constants.DEFAULT_REQUEST_TIMEOUT_SECONDS): no timeout set anywhere.
LITELLM_DEFAULT_TIMEOUT_SECONDS = 6000.0
# Router(num_retries=None) falls back to openai.DEFAULT_MAX_RETRIES.
LITELLM_DEFAULT_NUM_RETRIES = 2
# The longest wait between two tries: a Retry-After of 60 s is honoured, plus 0.75 s jitter.
RETRY_WAIT_SECONDS = 61
# Authentication, routing, logging and the response's way back, around the upstream calls.
PROXY_MARGIN_SECONDS = 10
# Pass-through router settings (not modelled) that add fallback targets too.
_PASS_THROUGH_FALLBACKS = ("content_policy_fallbacks",)


def worst_case_seconds(spec: ProxyConfigSpec, where: str) -> int:
    """The longest any one request may take through the proxy, in whole seconds."""
    cost_of = {model.name: _model_cost(model, spec, where) for model in spec.models}
    edges = _fallback_edges(spec)
    worst = max(
        (
            sum(cost_of[name] for name in _reachable(start, edges) if name in cost_of)
            for start in cost_of
        ),
        default=0.0,
    )
    return math.ceil(worst) + PROXY_MARGIN_SECONDS


def longest_try_seconds(spec: ProxyConfigSpec, where: str) -> int:
    """The longest any single try of any model may take, in whole seconds.

    What an answer in progress when a pod is told to stop still needs at most: the proxy drains
    for this long (plus its own margin), so that the try under way finishes. A request between
    tries is not waited for to its worst case (``worst_case_seconds``, minutes): the client's
    retry or the gateway's next try reaches another pod.
    """
    return math.ceil(max((_attempt(model, spec, where) for model in spec.models), default=0.0))


def _attempt(model: ModelSpec, spec: ProxyConfigSpec, where: str) -> float:
    """One try of one model: its timeout, the router's, or LiteLLM's default."""
    params = model.litellm_params()
    timeout = _number(params.get("timeout"), model, "timeout", where)
    stream_timeout = _number(params.get("stream_timeout"), model, "stream_timeout", where)
    attempt = timeout or spec.router.timeout or LITELLM_DEFAULT_TIMEOUT_SECONDS
    return max(attempt, stream_timeout or 0.0)


def _model_cost(model: ModelSpec, spec: ProxyConfigSpec, where: str) -> float:
    """Every try of one model: its attempts and the waits between them."""
    params = model.litellm_params()
    router = spec.router
    retries = _number(params.get("num_retries"), model, "num_retries", where)
    attempt = _attempt(model, spec, where)
    if retries is None:
        retries = float(
            router.num_retries if router.num_retries is not None else LITELLM_DEFAULT_NUM_RETRIES
        )
    return (retries + 1) * attempt + retries * RETRY_WAIT_SECONDS


def _number(value: object, model: ModelSpec, key: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SynthError(
            f"{where}: model '{model.name}' has {key} {value!r}, not a number >= 0: the "
            "ingress timeouts are derived from it; write it as a number"
        )
    return float(value)


def _fallback_edges(spec: ProxyConfigSpec) -> dict[str, list[str]]:
    edges: dict[str, list[str]] = {}
    tables: list[Mapping[str, Iterable[str]]] = [
        spec.router.fallbacks,
        spec.router.context_window_fallbacks,
    ]
    for key in _PASS_THROUGH_FALLBACKS:
        # LiteLLM's own shape: a list of {model: [targets]}.
        for entry in spec.router_settings.get(key) or ():
            if isinstance(entry, Mapping):
                tables.append(entry)
    for table in tables:
        for source, targets in table.items():
            edges.setdefault(source, []).extend(targets)
    # default_fallbacks: tried for any model without fallbacks of its own; counted for all.
    defaults = spec.router_settings.get("default_fallbacks") or ()
    for model in spec.models:
        edges.setdefault(model.name, []).extend(str(target) for target in defaults)
    return edges


def _reachable(start: str, edges: Mapping[str, list[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for target in edges.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen
