"""What an environment needs from the cluster before its manifests apply, read from what the
synth built: `main.py --explain` (`make explain ENV=prod`) prints it after the report.

Custom resources are found by the kinds of the objects built, through ``CLUSTER_APIS``: a new
kind this project emits (an HTTPRoute, a PrometheusRule) is one line there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lib.environments import Environment
from lib.secrets.model import SecretsDocument
from lib.specs.database import ExistingPostgres
from lib.specs.modes import SecretMode
from lib.specs.redis import ExistingRedis


@dataclass(frozen=True)
class ClusterApi:
    """A kind the cluster only knows once ``crd`` is installed, by ``provided_by``."""

    kind: str
    crd: str
    provided_by: str


CLUSTER_APIS = (
    ClusterApi(
        "ExternalSecret",
        "externalsecrets.external-secrets.io",
        "the External Secrets Operator (v0.17 or newer, for external-secrets.io/v1)",
    ),
    ClusterApi(
        "ServiceMonitor",
        "servicemonitors.monitoring.coreos.com",
        "prometheus-operator (e.g. the kube-prometheus-stack Helm chart)",
    ),
    ClusterApi(
        "HTTPRoute",
        "httproutes.gateway.networking.k8s.io",
        "the Gateway API CRDs, and a Gateway controller serving the Gateway the route names",
    ),
    ClusterApi(
        "PrometheusRule",
        "prometheusrules.monitoring.coreos.com",
        "prometheus-operator (e.g. the kube-prometheus-stack Helm chart)",
    ),
)


def prerequisites(
    environment: Environment,
    objects: Sequence[Mapping[str, Any]],
    secrets: SecretsDocument,
    secrets_file: str,
) -> list[str]:
    """One line per thing the cluster must have, in the order to set them up."""
    namespace = environment.namespace
    kinds = {str(o["kind"]) for o in objects}
    lines = [
        f"namespace {namespace}: created by 00-namespace.k8s.yaml with Pod Security "
        "'restricted' labels (apply with a user allowed to create namespaces)",
        "NetworkPolicy enforced by the CNI (Calico, Cilium, ...): without it the policies are "
        "accepted and do nothing",
    ]
    lines += [
        f"CRD {api.crd} (for {api.kind}): install {api.provided_by}"
        for api in CLUSTER_APIS
        if api.kind in kinds
    ]
    ingresses = [o for o in objects if o["kind"] == "Ingress"]
    if ingresses:
        labels = _labels(environment.network.ingress_controller_namespace)
        lines.append(
            f"ingress controller for IngressClass '{environment.ingress_class}', running in the "
            f"namespace labelled {labels} (the NetworkPolicies let it in from there)"
        )
    routes = [o for o in objects if o["kind"] == "HTTPRoute"]
    for parent in sorted(
        {
            (p["namespace"], p["name"], p.get("sectionName"))
            for o in routes
            for p in o["spec"]["parentRefs"]
        },
        key=str,
    ):
        namespace_, name, section = parent
        listener = f", listener {section}" if section else ""
        lines.append(
            f"Gateway {namespace_}/{name}{listener}, allowing routes from namespace {namespace}, "
            "with the certificate for its hosts"
        )
    if environment.gateway_route is not None:
        route = environment.gateway_route
        lines.append(
            "the Gateway's data plane pods in the namespace labelled "
            f"{_labels(route.data_plane_namespace) or '(any)'}"
            f"{', labelled ' + _labels(route.data_plane_pods) if route.data_plane_pods else ''} "
            "(the NetworkPolicies let them in)"
        )
    hosts = sorted(
        {rule["host"] for o in ingresses for rule in o["spec"].get("rules", ())}
        | {host for o in routes for host in o["spec"].get("hostnames", ())}
    )
    for host in hosts:
        lines.append(f"DNS: {host} resolving to the ingress controller or Gateway")
    for ingress in ingresses:
        for tls in ingress["spec"].get("tls", ()):
            lines.append(
                f"TLS Secret {tls['secretName']} in namespace {namespace} for "
                f"{', '.join(tls['hosts'])} (cert-manager, or `kubectl -n {namespace} create "
                f"secret tls {tls['secretName']} --cert=... --key=...`)"
            )
    lines = list(dict.fromkeys(lines))  # one TLS line when the app shares the gateway's host
    if "HorizontalPodAutoscaler" in kinds:
        lines.append("metrics-server: the HorizontalPodAutoscaler reads pod CPU from it")
    if isinstance(environment.redis, ExistingRedis):
        redis = environment.redis
        password = (
            f"its password under key {redis.password_key} of group {environment.litellm_group}"
            if redis.password_key is not None
            else "no password"
        )
        lines.append(
            f"Redis or Valkey at {redis.host}:{redis.port}{' (TLS)' if redis.tls else ''}, "
            f"db {redis.db}, reachable from namespace {namespace}; {password}"
        )
    if isinstance(environment.database, ExistingPostgres):
        database = environment.database
        lines.append(
            f"Postgres at {database.host}:{database.port}, database {database.database}, user "
            f"{database.user} (sslmode {database.sslmode.value}), reachable from namespace "
            f"{namespace}; its password under key {database.password_key} of group "
            f"{environment.litellm_group} (docs/database.md)"
        )
    if environment.secret_mode is SecretMode.EXTERNAL and environment.external_secrets:
        source = environment.external_secrets
        lines.append(
            f"{source.store.kind} {source.store.name}, readable by the External Secrets "
            f"Operator; {secrets_file} gives only the key names (its values are never read)"
        )
        for group in secrets.groups:
            remote = source.remote_key(group=group.name, namespace=namespace)
            lines.append(
                f"in store {source.store.name}: remote secret {remote} with properties "
                f"{', '.join(group.keys)} (the real values)"
            )
    if environment.metrics is not None:
        metrics = environment.metrics
        selector = _labels(metrics.service_monitor_labels) if metrics.service_monitor else None
        lines.append(
            f"Prometheus in the namespace labelled {_labels(metrics.scraper_namespace)}"
            + (f", selecting ServiceMonitors labelled {selector}" if selector else "")
            + f" (scrapes port {metrics.port})"
        )
    return lines


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items())
