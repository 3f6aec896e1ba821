"""The checks that need a whole environment: how its specs fit together.

Each spec checks itself (``__post_init__`` for what needs no context, ``check(where)`` for what
is told per environment); what is left here spans several specs: unique workload names, the
namespace, the store the secret mode needs, the Redis more than one process needs, routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from lib.errors import SynthError
from lib.names import is_dns_label
from lib.specs.database import InClusterPostgres
from lib.specs.gateway_rules import check_gateway_rules
from lib.specs.image import ImageRef
from lib.specs.modes import SecretMode
from lib.specs.redis import ExistingRedis, InClusterValkey

if TYPE_CHECKING:
    from lib.environments import Environment

# The proxy's own workload name: no app or Valkey may take it.
RESERVED_WORKLOAD_NAMES = frozenset({"litellm"})


def where_in_table(environment_name: str) -> str:
    """How messages name an environment: the file users edit and the entry in it."""
    return f"lib/environments.py, environment '{environment_name}'"


def check_environment(environment: Environment) -> None:
    """Refuse an environment whose specs do not fit together, in one line naming it."""
    where = where_in_table(environment.name)
    if not is_dns_label(environment.namespace):
        raise SynthError(f"{where}: namespace '{environment.namespace}' is not a DNS-1123 label")
    if environment.secret_mode is SecretMode.EXTERNAL and environment.external_secrets is None:
        raise SynthError(f"{where}: secret_mode EXTERNAL needs external_secrets (the store)")
    environment.gateway.check(where)
    environment.request_timeout_seconds()  # refuses a timeout it cannot read, in one line
    _check_redis(environment, where)
    if environment.metrics is not None:
        environment.metrics.check(where)
    seen: set[str] = set()
    for app in environment.apps:
        app.check(where, RESERVED_WORKLOAD_NAMES | seen)
        seen.add(app.name)
    _check_routes(environment, where)
    for app in environment.apps:
        unknown = sorted(set(app.ingress.from_apps) - seen)
        if unknown:
            raise SynthError(
                f"{where}: app '{app.name}' allows ingress from unknown apps {unknown}: "
                f"use names of this environment's apps ({', '.join(sorted(seen))})"
            )
    check_gateway_rules(environment, where)


def images(environment: Environment) -> dict[str, ImageRef]:
    """Every image of the environment, by the workload that runs it."""
    found = {"litellm": environment.gateway.image, **{a.name: a.image for a in environment.apps}}
    if isinstance(environment.redis, InClusterValkey):
        found[environment.redis.name] = environment.redis.image
    if isinstance(environment.database, InClusterPostgres):
        found[environment.database.name] = environment.database.image
    return found


def with_images(environment: Environment, replacements: Mapping[str, ImageRef]) -> Environment:
    """``environment`` with the images of the workloads named (as ``images`` names them)
    replaced; beside ``images`` so the two always agree on where images live."""
    gateway, redis, database = environment.gateway, environment.redis, environment.database
    if "litellm" in replacements:
        gateway = replace(gateway, image=replacements["litellm"])
    if isinstance(redis, InClusterValkey) and redis.name in replacements:
        redis = replace(redis, image=replacements[redis.name])
    if isinstance(database, InClusterPostgres) and database.name in replacements:
        database = replace(database, image=replacements[database.name])
    apps = tuple(
        replace(app, image=replacements[app.name]) if app.name in replacements else app
        for app in environment.apps
    )
    return replace(environment, gateway=gateway, apps=apps, redis=redis, database=database)


def _check_redis(environment: Environment, where: str) -> None:
    gateway, redis = environment.gateway, environment.redis
    if redis is None:
        if gateway.replicas > 1 or gateway.workers > 1:
            raise SynthError(
                f"{where}: {gateway.replicas} replicas x {gateway.workers} workers without "
                "Redis: rate limits, cooldowns and the cache would be kept per process; set "
                "redis (ExistingRedis or InClusterValkey) or run 1 replica with 1 worker"
            )
    elif isinstance(redis, ExistingRedis):
        redis.check(where)
    else:
        redis.check(where, RESERVED_WORKLOAD_NAMES | {app.name for app in environment.apps})


def _check_routes(environment: Environment, where: str) -> None:
    """No app route may take the gateway's path or another app's host and path."""
    from lib.environments import LITELLM_PATH_PREFIX

    taken: dict[tuple[str, str], str] = {}
    for app in environment.apps:
        route = app.route
        if route is None:
            continue
        host = route.host or environment.host
        if host == environment.host and route.within(LITELLM_PATH_PREFIX):
            raise SynthError(
                f"{where}: app '{app.name}' route path '{route.path}' lies within the gateway's "
                f"{LITELLM_PATH_PREFIX} on {host}: use another path (e.g. '/{app.name}') or "
                "another host"
            )
        key = (host, route.path.rstrip("/") or "/")
        if key in taken:
            raise SynthError(
                f"{where}: apps '{taken[key]}' and '{app.name}' both route {host}{route.path}: "
                "give each its own path or host"
            )
        taken[key] = app.name
