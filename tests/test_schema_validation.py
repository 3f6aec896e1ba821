"""The strict ServiceMonitor schema (hand-written in tests/schemas/): the synthesized prod
ServiceMonitor passes, and each kind of mistake it exists to catch is refused by name."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from lib.environments import ENVIRONMENTS
from lib.synthesis import SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, AgeKey, encrypt_document
from tests.schema_validation import (
    KUBERNETES_VERSION,
    NEWEST_KUBERNETES_VERSION,
    SchemaValidationError,
    validate_strict,
)

PROD = ENVIRONMENTS["prod"]


@pytest.fixture(scope="module")
def prod_service_monitor(
    age_key: AgeKey, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The ServiceMonitor of one real prod synth, shared by the module (a synth takes seconds)."""
    workdir = tmp_path_factory.mktemp("prod")
    secrets = encrypt_document(FAKE_SECRETS, workdir / "secrets.yaml", age_key.recipient)
    with pytest.MonkeyPatch.context() as env:
        for name in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD"):
            env.delenv(name, raising=False)
        env.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
        report = synthesize(
            SynthRequest(environment=PROD.name, outdir=workdir / "dist", secrets_file=secrets),
            {PROD.name: PROD},
        )
    (monitor,) = [o for o in report.objects if o["kind"] == "ServiceMonitor"]
    return dict(monitor)


def test_schema_validation_accepts_the_synthesized_prod_service_monitor(
    prod_service_monitor: dict[str, Any],
) -> None:
    validate_strict(prod_service_monitor)
    endpoint = prod_service_monitor["spec"]["endpoints"][0]
    # Every field the schema covers is really emitted, so none of its rules is untested.
    assert set(endpoint) == {"port", "path", "interval", "scheme"}
    assert set(prod_service_monitor["spec"]) == {"selector", "endpoints"}


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(monitor: dict[str, Any]) -> None:
        node: Any = monitor
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _delete(path: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def change(monitor: dict[str, Any]) -> None:
        node: Any = monitor
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


ENDPOINT = ("spec", "endpoints", 0)
# name -> (change, text the error must contain: the offending field or value)
REFUSED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown endpoint field (typo)": (_set((*ENDPOINT, "intervall"), "30s"), "'intervall'"),
    "unknown spec field": (_set(("spec", "namespaceSelecter"), {}), "'namespaceSelecter'"),
    "unknown selector field": (_set(("spec", "selector", "matchLabel"), {}), "'matchLabel'"),
    "status written by a manifest": (_set(("status",), {}), "'status'"),
    "port as a number": (_set((*ENDPOINT, "port"), 9090), "9090 is not of type 'string'"),
    "interval as a number": (_set((*ENDPOINT, "interval"), 30), "30 is not of type 'string'"),
    "endpoints as an object": (_set(("spec", "endpoints"), {}), "is not of type 'array'"),
    "label value as a number": (
        _set(("spec", "selector", "matchLabels", "app"), 1),
        "1 is not of type 'string'",
    ),
    "interval without a unit": (_set((*ENDPOINT, "interval"), "30"), "'30' does not match"),
    "interval units out of order": (_set((*ENDPOINT, "interval"), "30s1m"), "'30s1m'"),
    "interval in Go's spelling": (_set((*ENDPOINT, "interval"), "1m30.5s"), "'1m30.5s'"),
    "interval empty": (_set((*ENDPOINT, "interval"), ""), "'' should be non-empty"),
    "scheme not http(s)": (_set((*ENDPOINT, "scheme"), "tcp"), "'tcp' is not one of"),
    "missing spec": (_delete(("spec",)), "'spec' is a required property"),
    "missing selector": (_delete(("spec", "selector")), "'selector' is a required property"),
    "missing endpoints": (_delete(("spec", "endpoints")), "'endpoints' is a required property"),
    "an apiVersion with no schema": (
        _set(("apiVersion",), "monitoring.coreos.com/v1alpha1"),
        "no schema for this apiVersion and kind",
    ),
}


@pytest.mark.parametrize(("change", "expected"), REFUSED.values(), ids=REFUSED.keys())
def test_schema_validation_refuses_a_broken_service_monitor(
    prod_service_monitor: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    monitor = copy.deepcopy(prod_service_monitor)
    change(monitor)
    with pytest.raises(SchemaValidationError) as caught:
        validate_strict(monitor)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    "interval", ["0", "15s", "1m", "1h20m15s", "15d", "1y2w", "500ms", "1m5ms"]
)
def test_schema_validation_accepts_documented_durations(
    prod_service_monitor: dict[str, Any], interval: str
) -> None:
    monitor = copy.deepcopy(prod_service_monitor)
    monitor["spec"]["endpoints"][0]["interval"] = interval
    validate_strict(monitor)


@pytest.mark.parametrize("scheme", ["http", "https", "HTTP", "HTTPS"])
def test_schema_validation_accepts_each_documented_scheme(
    prod_service_monitor: dict[str, Any], scheme: str
) -> None:
    monitor = copy.deepcopy(prod_service_monitor)
    monitor["spec"]["endpoints"][0]["scheme"] = scheme
    validate_strict(monitor)


def test_schema_validation_newest_kubernetes_is_the_newest_shipped() -> None:
    """A kubernetes-validate upgrade that ships a newer release fails here: move
    NEWEST_KUBERNETES_VERSION to it, so the manifests are checked against it."""
    assert kubernetes_validate.latest_version() == f"{NEWEST_KUBERNETES_VERSION}.0"


def test_schema_validation_refuses_a_field_the_newest_kubernetes_dropped() -> None:
    """Each built-in object is checked against 1.28 and 1.37: what 1.28 still served but 1.37
    no longer does fails, naming 1.37 (here the flowcontrol v1beta3 API, removed in 1.32)."""
    old_api = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3",
        "kind": "FlowSchema",
        "metadata": {"name": "x"},
        "spec": {"priorityLevelConfiguration": {"name": "global-default"}},
    }
    kubernetes_validate.validate(old_api, KUBERNETES_VERSION, strict=True)
    with pytest.raises(SchemaValidationError) as caught:
        validate_strict(old_api)
    assert f"neither a Kubernetes {NEWEST_KUBERNETES_VERSION} built-in" in str(caught.value)


@pytest.fixture(scope="module")
def prod_route(age_key: AgeKey, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("route")
    secrets = encrypt_document(FAKE_SECRETS, workdir / "secrets.yaml", age_key.recipient)
    with pytest.MonkeyPatch.context() as env:
        for name in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD"):
            env.delenv(name, raising=False)
        env.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
        report = synthesize(
            SynthRequest(environment=PROD.name, outdir=workdir / "dist", secrets_file=secrets),
            {PROD.name: PROD},
        )
    (route,) = [
        o
        for o in report.objects
        if o["kind"] == "HTTPRoute" and o["metadata"]["name"] == "litellm"  # type: ignore[index]
    ]
    return dict(route)


def test_schema_validation_accepts_the_synthesized_prod_http_route(
    prod_route: dict[str, Any],
) -> None:
    validate_strict(prod_route)
    (rule,) = prod_route["spec"]["rules"]
    assert set(rule) == {"matches", "filters", "backendRefs", "timeouts"}
    assert set(prod_route["spec"]) == {"parentRefs", "hostnames", "rules"}


RULE = ("spec", "rules", 0)
ROUTE_REFUSED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown rule field (typo)": (_set((*RULE, "timeout"), {}), "'timeout'"),
    "unknown timeouts field": (_set((*RULE, "timeouts", "idle"), "1s"), "'idle'"),
    "duration in seconds as a number": (_set((*RULE, "timeouts", "request"), 794), "794"),
    "duration with 6 digits": (_set((*RULE, "timeouts", "request"), "100000s"), "'100000s'"),
    "duration without a unit": (_set((*RULE, "timeouts", "request"), "794"), "'794'"),
    "rewrite type unknown": (
        _set((*RULE, "filters", 0, "urlRewrite", "path", "type"), "ReplacePrefix"),
        "'ReplacePrefix' is not one of",
    ),
    "path match type unknown": (
        _set((*RULE, "matches", 0, "path", "type"), "Prefix"),
        "'Prefix' is not one of",
    ),
    "backend port out of range": (_set((*RULE, "backendRefs", 0, "port"), 70000), "70000"),
    "backend without a name": (_delete((*RULE, "backendRefs", 0, "name")), "'name'"),
    "parent without a name": (_delete(("spec", "parentRefs", 0, "name")), "'name'"),
    "parent namespace not a label": (
        _set(("spec", "parentRefs", 0, "namespace"), "Gateway_NS"),
        "'Gateway_NS' does not match",
    ),
    "hostname with a port": (
        _set(("spec", "hostnames", 0), "backend.seance.dev:443"),
        "does not match",
    ),
    "v1beta1, not v1": (
        _set(("apiVersion",), "gateway.networking.k8s.io/v1beta1"),
        "no schema for this apiVersion and kind",
    ),
}


@pytest.mark.parametrize(("change", "expected"), ROUTE_REFUSED.values(), ids=ROUTE_REFUSED.keys())
def test_schema_validation_refuses_a_broken_http_route(
    prod_route: dict[str, Any], change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    route = copy.deepcopy(prod_route)
    change(route)
    with pytest.raises(SchemaValidationError) as caught:
        validate_strict(route)
    assert expected in str(caught.value)
