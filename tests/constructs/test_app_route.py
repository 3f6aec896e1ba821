"""Publishing an app (``AppRoute``): its Ingress points at its Service, and only the ingress
controller is let in."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lib.environments import ENVIRONMENTS, Environment, check_environment
from lib.errors import SynthError
from lib.specs.apps import ConsumerAppSpec, HttpProbes
from lib.specs.image import ImageRef
from lib.specs.network import AppIngress
from lib.specs.routes import AppRoute
from lib.synthesis import SynthReport, SynthRequest, synthesize
from tests.helpers import AgeKey

DEV = ENVIRONMENTS["dev"]
PROD = ENVIRONMENTS["prod"]
HOOKS = ConsumerAppSpec(
    name="hooks",
    image=ImageRef.parse("ghcr.io/you/hooks:1.0.0"),
    port=8080,
    secret_groups=("stripe",),
    probes=HttpProbes(readiness_path="/ready", liveness_path="/healthz"),
    route=AppRoute(path="/webhooks", host="hooks.example.com"),
)


def synth(environment: Environment, secrets: Path, outdir: Path) -> SynthReport:
    return synthesize(
        SynthRequest(environment=environment.name, outdir=outdir, secrets_file=secrets),
        {environment.name: environment},
    )


def find(report: SynthReport, kind: str, name: str) -> Any:
    (found,) = [
        o
        for o in report.objects
        if o["kind"] == kind and o["metadata"]["name"] == name  # type: ignore[index]
    ]
    return found


def test_app_route_ingress_reaches_the_apps_service_and_only_the_controller_gets_in(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    environment = replace(DEV, apps=(*DEV.apps, HOOKS))
    report = synth(environment, fixture_secrets, tmp_path / "dist")
    ingress = find(report, "Ingress", "hooks")
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    service = find(report, "Service", "hooks")
    assert rule["host"] == "hooks.example.com"
    assert (path["path"], path["pathType"]) == ("/webhooks", "Prefix")
    assert path["backend"]["service"] == {
        "name": service["metadata"]["name"],
        "port": {"number": service["spec"]["ports"][0]["port"]},
    }
    assert "tls" not in ingress["spec"]  # the environment's certificate is for its own host
    policy = find(report, "NetworkPolicy", "hooks-ingress")
    (allowed,) = policy["spec"]["ingress"]
    gateway_policy = find(report, "NetworkPolicy", "litellm-ingress")
    controller = gateway_policy["spec"]["ingress"][0]["from"][0]
    assert allowed["from"] == [controller]
    assert allowed["ports"] == [{"port": 8080, "protocol": "TCP"}]
    pod_labels = find(report, "Deployment", "hooks")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()


def test_app_route_on_the_environments_host_gets_its_tls(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    routed = replace(HOOKS, route=AppRoute(path="/webhooks"))
    environment = replace(DEV, apps=(*DEV.apps, routed), tls_secret_name="dev-tls")
    ingress = find(synth(environment, fixture_secrets, tmp_path / "dist"), "Ingress", "hooks")
    assert ingress["spec"]["tls"] == [{"hosts": [DEV.host], "secretName": "dev-tls"}]


def test_app_route_keeps_other_callers(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    both = replace(HOOKS, ingress=AppIngress(from_gateway=True))
    report = synth(replace(DEV, apps=(*DEV.apps, both)), fixture_secrets, tmp_path / "dist")
    (allowed,) = find(report, "NetworkPolicy", "hooks-ingress")["spec"]["ingress"]
    assert len(allowed["from"]) == 2  # the controller and the LiteLLM pods


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            AppRoute(path="/litellm/hooks"),
            "lib/environments.py, environment 'dev': app 'hooks' route path '/litellm/hooks' lies "
            "within the gateway's /litellm on backend.dev.localhost: use another path (e.g. "
            "'/hooks') or another host",
        ),
        (
            AppRoute(path="/"),
            "lib/environments.py, environment 'dev': apps 'backend' and 'hooks' both route "
            "backend.dev.localhost/: give each its own path or host",
        ),
    ],
)
def test_app_route_refusals(route: AppRoute, message: str) -> None:
    with pytest.raises(SynthError) as refused:
        check_environment(replace(DEV, apps=(*DEV.apps, replace(HOOKS, route=route))))
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: AppRoute(path="webhooks"),
            "app route path 'webhooks' must start with '/' and hold no spaces or quotes: write "
            "e.g. '/' or '/webhooks'",
        ),
        (
            lambda: AppRoute(host="https://hooks.example.com"),
            "app route host 'https://hooks.example.com' is not a DNS name: write e.g. "
            "'hooks.example.com' (no scheme, port or path), or None for the environment's host",
        ),
    ],
)
def test_app_route_spec_refusals(build: Any, message: str) -> None:
    with pytest.raises(SynthError) as refused:
        build()
    assert str(refused.value) == message
