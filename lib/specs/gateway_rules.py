"""The rules that tie an environment's database, admin UI and apps' gateway access together.

Each spec checks itself where it is built (``GatewayAccess``, ``ExistingPostgres``, ...); what
needs the whole environment (is the model declared? is there a database?) is checked here,
before anything is decrypted or built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lib.errors import SynthError
from lib.specs.database import InClusterPostgres
from lib.specs.redis import InClusterValkey

if TYPE_CHECKING:
    from lib.environments import Environment


def check_gateway_rules(environment: Environment, where: str) -> None:
    _check_database(environment, where)
    _check_admin_ui(environment, where)
    models = [model.name for model in environment.proxy.models]
    aliases: dict[str, str] = {}
    for app in environment.apps:
        if environment.litellm_group in app.secret_groups:
            raise SynthError(
                f"{where}: app '{app.name}' lists the LiteLLM group '{environment.litellm_group}', "
                "which holds the master key, the salt key, every provider key and the database "
                "and Redis passwords: remove it and give the app a key of its own with "
                "gateway=GatewayAccess(models=(...)) (docs/gateway-keys.md)"
            )
        access = app.gateway
        if access is None:
            continue
        if environment.database is None:
            raise SynthError(
                f"{where}: app '{app.name}' has gateway access, which needs LiteLLM's database "
                "for its key: set database=InClusterPostgres() or ExistingPostgres(...) on the "
                "environment (docs/database.md)"
            )
        unknown = [model for model in access.models if model not in models]
        if unknown:
            raise SynthError(
                f"{where}: app '{app.name}' gateway models {unknown} are not models of the "
                f"environment ({', '.join(models)}): use one of them or add a ModelSpec"
            )
        alias = access.alias_for(app.name)
        if alias in aliases:
            raise SynthError(
                f"{where}: app '{app.name}' has gateway key alias '{alias}', which app "
                f"'{aliases[alias]}' already uses: give one of them another alias"
            )
        aliases[alias] = app.name


def _check_database(environment: Environment, where: str) -> None:
    database = environment.database
    if not isinstance(database, InClusterPostgres):
        return
    taken = {"litellm", *(app.name for app in environment.apps)}
    if isinstance(environment.redis, InClusterValkey):
        taken.add(environment.redis.name)
    if database.name in taken:
        raise SynthError(
            f"{where}: in-cluster postgres name '{database.name}' is already the name of "
            "another workload: give it another name"
        )


def _check_admin_ui(environment: Environment, where: str) -> None:
    if not environment.admin_ui:
        return
    # Imported here: lib.environments imports this module.
    from lib.environments import PathPrefixMode

    if environment.path_prefix_mode is not PathPrefixMode.ROOT_PATH:
        raise SynthError(
            f"{where}: admin_ui needs path_prefix_mode=PathPrefixMode.ROOT_PATH: with the prefix "
            "stripped the UI's links break (docs/models.md, 'Path prefix')"
        )
    if environment.database is None:
        raise SynthError(
            f"{where}: admin_ui needs a database (the UI logs in and lists keys from it): set "
            "database=... or admin_ui=False"
        )
