"""What a platform review found would misbehave under real traffic, checked over every pod of
every environment (docs/production-hardening.md): each number is derived from what the project
knows, and each test fails when its fix is reverted."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lib import litellm_runtime
from lib.constructs.gateway_route import duration
from lib.constructs.valkey import FRAGMENTATION_PERCENT, IDLE_RSS_MIB
from lib.environments import ENVIRONMENTS, Environment, PathPrefixMode
from lib.errors import SynthError
from lib.proxy_config.timing import PROXY_MARGIN_SECONDS, longest_try_seconds
from lib.specs.availability import AvailabilitySpec
from lib.specs.network import NAMESPACE_NAME_LABEL, NetworkSpec
from lib.specs.redis import InClusterValkey
from lib.specs.route import (
    ENVOY_UPSTREAM_IDLE_TIMEOUT_SECONDS,
    INGRESS_NGINX_UPSTREAM_KEEPALIVE_SECONDS,
    GatewayRouteSpec,
)
from lib.synthesis import SynthReport, SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, AgeKey, encrypt_document
from tests.schema_validation import validate_strict

Objects = Sequence[Mapping[str, Any]]
# What the stable selectors are made of (one labels value per workload).
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/component"}
CONSTRUCT_PATH_LABEL = "cdk8s.io/metadata.addr"


def _synth(environment: Environment, workdir: Path, age_key: AgeKey) -> SynthReport:
    secrets = encrypt_document(FAKE_SECRETS, workdir / "secrets.yaml", age_key.recipient)
    with pytest.MonkeyPatch.context() as env:
        for name in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD"):
            env.delenv(name, raising=False)
        env.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
        report = synthesize(
            SynthRequest(
                environment=environment.name, outdir=workdir / "dist", secrets_file=secrets
            ),
            {environment.name: environment},
        )
    for obj in report.objects:
        validate_strict(obj)
    return report


@pytest.fixture(scope="module")
def shipped(age_key: AgeKey, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Objects]:
    """Every object of every shipped environment, one synth each for the whole module."""
    return {
        name: list(_synth(environment, tmp_path_factory.mktemp(name), age_key).objects)
        for name, environment in ENVIRONMENTS.items()
    }


def _every(shipped: Mapping[str, Objects], kind: str) -> Iterator[tuple[Environment, Any]]:
    for name, objects in shipped.items():
        for obj in objects:
            if obj["kind"] == kind:
                yield ENVIRONMENTS[name], obj


def _find(objects: Objects, kind: str, name: str) -> Any:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _litellm(objects: Objects) -> tuple[Any, Any]:
    deployment = _find(objects, "Deployment", "litellm")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment["spec"]["template"]["spec"], container


def _arg(container: Mapping[str, Any], flag: str) -> str:
    args = list(container["args"])
    return str(args[args.index(flag) + 1])


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_production_shipped_environments_cover_both_route_types() -> None:
    """The checks below run over an Ingress environment and a Gateway API one."""
    routes = {environment.gateway_route is None for environment in ENVIRONMENTS.values()}
    assert routes == {True, False}


# -- keep-alive ------------------------------------------------------------------------------


def test_production_proxy_keeps_idle_connections_longer_than_its_forwarder(
    shipped: Mapping[str, Objects],
) -> None:
    for name, objects in shipped.items():
        environment = ENVIRONMENTS[name]
        _, container = _litellm(objects)
        keepalive = int(_arg(container, litellm_runtime.KEEPALIVE_FLAG))
        forwarder = (
            ENVOY_UPSTREAM_IDLE_TIMEOUT_SECONDS
            if environment.gateway_route is not None
            else INGRESS_NGINX_UPSTREAM_KEEPALIVE_SECONDS
        )
        assert keepalive == forwarder + litellm_runtime.UVICORN_DEFAULT_KEEPALIVE_SECONDS, name
        assert keepalive > forwarder > litellm_runtime.UVICORN_DEFAULT_KEEPALIVE_SECONDS


def test_production_keepalive_follows_a_configured_gateway_idle_timeout() -> None:
    prod = ENVIRONMENTS["prod"]
    assert prod.gateway_route is not None
    traefik_like = replace(
        prod, gateway_route=replace(prod.gateway_route, upstream_idle_timeout_seconds=90)
    )
    assert traefik_like.keepalive_seconds() == 95
    other_ingress = replace(ENVIRONMENTS["dev"], ingress_upstream_keepalive_seconds=120)
    assert other_ingress.keepalive_seconds() == 125


# -- CPU -------------------------------------------------------------------------------------


def test_production_cpu_request_comes_from_the_process_layout(
    shipped: Mapping[str, Objects],
) -> None:
    for name, objects in shipped.items():
        environment = ENVIRONMENTS[name]
        _, container = _litellm(objects)
        workers, metrics = environment.gateway.workers, environment.metrics is not None
        expected = litellm_runtime.cpu_request_millis(workers=workers, metrics=metrics)
        assert container["resources"]["requests"]["cpu"] == f"{expected}m", name
    # Idle processes plus half a core per worker: prod 2 + 2 x 4 + 2 idle, + 2 x 500.
    assert litellm_runtime.cpu_request_millis(workers=2, metrics=True) == 1012
    assert litellm_runtime.cpu_request_millis(workers=1, metrics=False) == 504


def test_production_autoscaler_target_is_a_share_of_real_work(
    shipped: Mapping[str, Objects],
) -> None:
    """At the target, the pod does real work (its idle processes are a sliver of it) and no
    worker is saturated yet: the HPA scales on requests, before latency climbs."""
    scaled = 0
    for environment, hpa in _every(shipped, "HorizontalPodAutoscaler"):
        (metric,) = hpa["spec"]["metrics"]
        target = metric["resource"]["target"]["averageUtilization"]
        workers, metrics = environment.gateway.workers, environment.metrics is not None
        request = litellm_runtime.cpu_request_millis(workers=workers, metrics=metrics)
        idle = litellm_runtime.idle_millicpu(workers=workers, metrics=metrics)
        at_target = request * target / 100
        assert idle < at_target / 10, environment.name
        work_per_worker = (at_target - idle) / environment.gateway.workers
        assert work_per_worker < litellm_runtime.WORKER_SATURATION_MILLICPU
        # In requests per second per pod at the measured cost of one request.
        assert (at_target - idle) / litellm_runtime.PROXY_CPU_MS_PER_REQUEST > 10
        scaled += 1
    assert scaled  # prod autoscales


# -- shutdown --------------------------------------------------------------------------------


def test_production_grace_period_lets_the_longest_try_finish(
    shipped: Mapping[str, Objects],
) -> None:
    for name, objects in shipped.items():
        environment = ENVIRONMENTS[name]
        pod, container = _litellm(objects)
        longest = longest_try_seconds(environment.proxy_config(), name)
        drain = int(_env(container)["GRACEFUL_SHUTDOWN_TIMEOUT"])
        sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert drain == longest + PROXY_MARGIN_SECONDS, name
        assert pod["terminationGracePeriodSeconds"] == (
            sleep + drain + AvailabilitySpec.SHUTDOWN_MARGIN_SECONDS
        )
    # The shipped models, by hand: claude-sonnet's 120 s try is the longest (router timeout
    # 120 s too; gpt-4o-mini 60 s, its stream 30 s; openrouter-default 60 s).
    assert longest_try_seconds(ENVIRONMENTS["prod"].proxy_config(), "prod") == 120
    assert ENVIRONMENTS["prod"].shutdown_drain_seconds() == 130


def test_production_longest_try_reads_stream_and_router_timeouts() -> None:
    prod = ENVIRONMENTS["prod"].proxy_config()
    streaming = replace(
        prod, models=(replace(prod.models[0], stream_timeout=300), *prod.models[1:])
    )
    assert longest_try_seconds(streaming, "x") == 300
    no_model_timeout = replace(
        prod,
        models=tuple(replace(m, timeout=None, stream_timeout=None) for m in prod.models),
        router=replace(prod.router, timeout=45),
    )
    assert longest_try_seconds(no_model_timeout, "x") == 45


# -- spread ----------------------------------------------------------------------------------


def test_production_zones_strict_hostnames_preferred(shipped: Mapping[str, Objects]) -> None:
    spread_seen = False
    for environment, deployment in _every(shipped, "Deployment"):
        constraints = deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
        rules = {c["topologyKey"]: c["whenUnsatisfiable"] for c in constraints}
        if not rules:
            continue
        spread_seen = True
        assert rules["kubernetes.io/hostname"] == "ScheduleAnyway"
        if environment.gateway.availability.spread_across_zones:
            assert rules["topology.kubernetes.io/zone"] == "DoNotSchedule"
        else:
            assert "topology.kubernetes.io/zone" not in rules
    assert spread_seen


# -- egress ----------------------------------------------------------------------------------


def test_production_egress_reaches_both_address_families(shipped: Mapping[str, Objects]) -> None:
    policies = 0
    for _, policy in _every(shipped, "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            blocks = [
                ipaddress.ip_network(peer["ipBlock"]["cidr"])
                for peer in rule.get("to", [])
                if "ipBlock" in peer
            ]
            if any(block.prefixlen == 0 for block in blocks):
                policies += 1
                assert {block.version for block in blocks if block.prefixlen == 0} == {4, 6}
    assert policies  # prod restricts egress
    assert NetworkSpec().egress_cidrs == ("0.0.0.0/0", "::/0")


# -- selectors -------------------------------------------------------------------------------


def test_production_every_workload_is_selected_by_its_stable_labels(
    shipped: Mapping[str, Objects],
) -> None:
    """One labels value: the Deployment's selector, its pods, its Service, its budget, spread
    and autoscaler, and the NetworkPolicies, never the construct-path label."""
    for name, objects in shipped.items():
        assert CONSTRUCT_PATH_LABEL not in str(objects), name
        for deployment in (o for o in objects if o["kind"] == "Deployment"):
            selector = deployment["spec"]["selector"]["matchLabels"]
            assert set(selector) == SELECTOR_KEYS
            assert selector["app.kubernetes.io/name"] == deployment["metadata"]["name"]
            assert deployment["spec"]["template"]["metadata"]["labels"] == selector
            service = _find(objects, "Service", deployment["metadata"]["name"])
            assert service["spec"]["selector"] == selector
        for kind in ("PodDisruptionBudget",):
            for budget in (o for o in objects if o["kind"] == kind):
                owner = _find(objects, "Deployment", budget["metadata"]["name"])
                assert budget["spec"]["selector"] == owner["spec"]["selector"]
        for hpa in (o for o in objects if o["kind"] == "HorizontalPodAutoscaler"):
            _find(objects, "Deployment", hpa["spec"]["scaleTargetRef"]["name"])
        pods = [
            o["spec"]["template"]["metadata"]["labels"]
            for o in objects
            if o["kind"] == "Deployment"
        ]
        for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
            selector = policy["spec"]["podSelector"].get("matchLabels", {})
            if selector:
                assert set(selector) == SELECTOR_KEYS, policy["metadata"]["name"]
                assert selector in pods


# -- Valkey and every pod --------------------------------------------------------------------


def test_production_valkey_recreated_and_its_limit_holds_a_full_cache(
    shipped: Mapping[str, Objects],
) -> None:
    valkeys = 0
    for environment, deployment in _every(shipped, "Deployment"):
        if not isinstance(environment.redis, InClusterValkey):
            continue
        if deployment["metadata"]["name"] != environment.redis.name:
            continue
        valkeys += 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        max_memory = int(_arg(container, "--maxmemory").removesuffix("mb"))
        full = max_memory * FRAGMENTATION_PERCENT / 100 + IDLE_RSS_MIB
        limit = int(container["resources"]["limits"]["memory"].removesuffix("Mi"))
        request = int(container["resources"]["requests"]["memory"].removesuffix("Mi"))
        assert request >= full
        assert limit > request
    assert valkeys  # dev runs one


def test_production_no_pod_gets_service_link_variables(shipped: Mapping[str, Objects]) -> None:
    pods = 0
    for _, deployment in _every(shipped, "Deployment"):
        assert deployment["spec"]["template"]["spec"]["enableServiceLinks"] is False
        pods += 1
    assert pods >= 4


# -- trusted proxies -------------------------------------------------------------------------


def test_production_proxy_believes_forwarded_addresses_only_from_its_forwarders(
    shipped: Mapping[str, Objects],
) -> None:
    for name, objects in shipped.items():
        trusted = ENVIRONMENTS[name].network.trusted_proxy_cidrs
        _, container = _litellm(objects)
        env = _env(container)
        if trusted:
            assert env["FORWARDED_ALLOW_IPS"] == ",".join(trusted)
        else:
            # uvicorn's default: only the pod's own loopback may forward.
            assert "FORWARDED_ALLOW_IPS" not in env
    assert ENVIRONMENTS["prod"].network.trusted_proxy_cidrs


@pytest.mark.parametrize("everyone", ["0.0.0.0/0", "::/0"])
def test_production_trusting_every_address_is_refused(everyone: str) -> None:
    with pytest.raises(SynthError) as raised:
        NetworkSpec(trusted_proxy_cidrs=("10.0.0.0/8", everyone))
    assert str(raised.value) == (
        f"network trusted_proxy_cidrs entry '{everyone}' trusts every address, so any client "
        "could claim any address in X-Forwarded-For: list the addresses of your ingress "
        "controller's or gateway's pods"
    )


# -- the Gateway API route -------------------------------------------------------------------


def test_production_gateway_route_admits_the_data_plane_not_ingress_nginx(
    shipped: Mapping[str, Objects],
) -> None:
    prod = ENVIRONMENTS["prod"]
    assert prod.gateway_route is not None
    objects = shipped["prod"]
    data_plane = {
        "namespaceSelector": {"matchLabels": dict(prod.gateway_route.data_plane_namespace)},
        "podSelector": {"matchLabels": dict(prod.gateway_route.data_plane_pods)},
    }
    (rule,) = _find(objects, "NetworkPolicy", "litellm-ingress")["spec"]["ingress"]
    assert rule["from"][0] == data_plane
    (backend_rule,) = _find(objects, "NetworkPolicy", "backend-ingress")["spec"]["ingress"]
    assert backend_rule["from"] == [data_plane]
    assert "ingress-nginx" not in str([o for o in objects if o["kind"] == "NetworkPolicy"])
    route = _find(objects, "HTTPRoute", "litellm")["spec"]
    assert route["parentRefs"] == [
        {"name": "public", "namespace": "gateway", "sectionName": "https"}
    ]
    assert route["hostnames"] == [prod.host]


def test_production_gateway_route_root_path_mode_and_defaults(
    age_key: AgeKey, tmp_path: Path
) -> None:
    """ROOT_PATH: a plain PathPrefix, no rewrite; no sectionName when none is given; the data
    plane defaults to every pod of the Gateway's namespace."""
    dev = ENVIRONMENTS["dev"]
    environment = replace(
        dev,
        path_prefix_mode=PathPrefixMode.ROOT_PATH,
        gateway_route=GatewayRouteSpec(gateway_name="edge", gateway_namespace="istio-ingress"),
    )
    objects = list(_synth(environment, tmp_path, age_key).objects)
    assert not [o for o in objects if o["kind"] == "Ingress"]
    route = _find(objects, "HTTPRoute", "litellm")["spec"]
    assert route["parentRefs"] == [{"name": "edge", "namespace": "istio-ingress"}]
    (rule,) = route["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/litellm"}}]
    assert "filters" not in rule
    timeout = duration(environment.request_timeout_seconds())
    assert rule["timeouts"] == {"request": timeout, "backendRequest": timeout}
    (gateway_rule,) = _find(objects, "NetworkPolicy", "litellm-ingress")["spec"]["ingress"]
    assert gateway_rule["from"][0] == {
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "istio-ingress"}}
    }
    _, container = _litellm(objects)
    assert _arg(container, "--keepalive_timeout") == str(ENVOY_UPSTREAM_IDLE_TIMEOUT_SECONDS + 5)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(1, "1s"), (794, "794s"), (99999, "99999s"), (100000, "27h46m40s"), (36000 * 3, "30h")],
)
def test_production_route_timeouts_are_gateway_api_durations(seconds: int, expected: str) -> None:
    assert duration(seconds) == expected


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: GatewayRouteSpec(gateway_name="Public", gateway_namespace="gateway"),
            "gateway route gateway_name 'Public' is not a DNS-1123 label (lowercase letters, "
            "digits and '-', at most 63)",
        ),
        (
            lambda: GatewayRouteSpec(
                gateway_name="public", gateway_namespace="gateway", section_name="https_443"
            ),
            "gateway route section_name 'https_443' is not a DNS-1123 label (lowercase letters, "
            "digits and '-', at most 63)",
        ),
        (
            lambda: GatewayRouteSpec(
                gateway_name="public", gateway_namespace="gateway", upstream_idle_timeout_seconds=0
            ),
            "gateway route upstream_idle_timeout_seconds 0 must be a whole number of seconds "
            ">= 1: your gateway's idle timeout of connections to backends",
        ),
        (
            lambda: GatewayRouteSpec(
                gateway_name="public", gateway_namespace="gateway", data_plane_pods={"a b": "c"}
            ),
            "gateway route data_plane_pods: 'a b: c' is not a valid Kubernetes label",
        ),
    ],
)
def test_production_gateway_route_spec_refuses(build: Any, message: str) -> None:
    with pytest.raises(SynthError) as raised:
        build()
    assert str(raised.value) == message
