"""Where the gateway's Postgres is: LiteLLM keeps virtual keys, budgets and spend there.

Two ways to have one, as for Redis: a server that already runs (``ExistingPostgres``) or a
small in-cluster Postgres for development (``InClusterPostgres``). Either way the proxy, the
migration Job and the schema gate are handed the discrete variables LiteLLM reads
(``DATABASE_HOST``, ``DATABASE_USERNAME``, ``DATABASE_PASSWORD``, ``DATABASE_NAME``,
``DATABASE_SSLMODE``) and assemble the URL in the process: no password is ever written into a
URL in a manifest.

Why ``DATABASE_HOST`` carries the port: the ``litellm`` CLI (``proxy_cli.py``) assembles the URL
with ``construct_database_url_from_env_vars`` (``litellm/proxy/utils.py``), which writes
``postgresql://user:password@{DATABASE_HOST}/{DATABASE_NAME}`` and never reads
``DATABASE_PORT`` (only ``db_url_settings.py``'s componentized entrypoints do). So the host is
``host:port`` and ``DATABASE_PORT`` is not set (set, an entrypoint that reads it would write
the port twice). ``DATABASE_SSLMODE`` is appended as ``?sslmode=`` by the same helper
(``DatabaseURLSettings.tls_params``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from lib.errors import SynthError
from lib.names import is_dns_label, is_env_var_name
from lib.specs.image import ImageRef
from lib.specs.network import check_labels

# Pinned like the LiteLLM image: a release tag of the official image, never "latest". Its
# Debian variant runs as an arbitrary non-root uid (its entrypoint uses nss_wrapper when the
# uid has no passwd entry) and initialises PGDATA itself when the directory is writable.
POSTGRES_IMAGE = ImageRef.parse("docker.io/library/postgres:17.6-bookworm")
# A high uid of no user in the image (checkov CKV_K8S_40), as for Valkey.
POSTGRES_UID = 10002
POSTGRES_PORT = 5432
# The key of the LiteLLM secrets group holding the password, unless a spec names another.
DEFAULT_PASSWORD_KEY = "DATABASE_PASSWORD"  # noqa: S105 - a key name, not a password
# What LiteLLM reads (litellm/proxy/utils.py, construct_database_url_from_env_vars).
HOST_VARIABLE = "DATABASE_HOST"
USER_VARIABLE = "DATABASE_USERNAME"
PASSWORD_VARIABLE = "DATABASE_PASSWORD"  # noqa: S105 - a variable name
NAME_VARIABLE = "DATABASE_NAME"
SSLMODE_VARIABLE = "DATABASE_SSLMODE"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class SslMode(Enum):
    """libpq's ``sslmode``. Prisma's engine knows ``disable``, ``prefer`` and ``require``;
    LiteLLM turns ``verify-ca``/``verify-full`` into ``require`` plus a pinned root
    (``translate_libpq_ssl_params``), which then needs ``DATABASE_SSLROOTCERT``."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_FULL = "verify-full"


def _check_names(database: str, user: str, password_key: str, what: str) -> None:
    for label, value in (("database", database), ("user", user)):
        if _NAME.fullmatch(value) is None:
            raise SynthError(
                f"{what} {label} '{value}' must be a plain Postgres name (letters, digits, '_', "
                "at most 63 characters)"
            )
    if not is_env_var_name(password_key):
        raise SynthError(
            f"{what} password_key '{password_key}' is not an environment variable name"
        )


@dataclass(frozen=True)
class ExistingPostgres:
    """A Postgres that already runs (a managed service, an operator-run cluster).

    ``host``/``port``: where it listens, as the LiteLLM pod resolves it. ``database``/``user``:
    what LiteLLM logs in as; the user must be allowed to create tables in ``database`` (the
    migration Job runs LiteLLM's migrations as it). ``password_key``: the key of the LiteLLM
    secrets group holding the password. ``sslmode``: the TLS mode (default ``require``).
    ``namespace_labels``: for a server inside the cluster, the labels of its namespace, so that
    the gateway's egress policy lets LiteLLM reach ``port`` there; ``None`` (outside the cluster)
    allows ``port`` at the network's ``egress_cidrs`` instead.
    """

    host: str
    database: str = "litellm"
    user: str = "litellm"
    port: int = POSTGRES_PORT
    password_key: str = DEFAULT_PASSWORD_KEY
    sslmode: SslMode = SslMode.REQUIRE
    namespace_labels: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        what = "existing postgres"
        if not self.host.strip() or any(c.isspace() or c in "/@:?" for c in self.host):
            # Never echo a host that may hold credentials (user:password@host).
            shown = "" if "@" in self.host else f" '{self.host}'"
            raise SynthError(
                f"{what} host{shown} must be a host name, without scheme, port or credentials: "
                "set port separately and the password with password_key"
            )
        if not 1 <= self.port <= 65535:
            raise SynthError(f"{what} port {self.port} must be in 1-65535")
        _check_names(self.database, self.user, self.password_key, what)
        if self.namespace_labels is not None:
            if not self.namespace_labels:
                raise SynthError(
                    f"{what} namespace_labels is empty, which would let LiteLLM reach the "
                    "Postgres port in every namespace: give the labels of its namespace, or None "
                    "for a server outside the cluster"
                )
            check_labels(self.namespace_labels, f"{what} namespace_labels")
            object.__setattr__(
                self, "namespace_labels", MappingProxyType(dict(self.namespace_labels))
            )


@dataclass(frozen=True)
class InClusterPostgres:
    """One Postgres pod and its Service for development, so ``tilt up`` has keys and budgets.

    Ephemeral unless asked: the data lives in an emptyDir of ``data_size_mib`` and a restart
    empties it (the migration Job and the key reconciler fill it again on the next apply).
    ``persistent_claim``: the name of an existing PersistentVolumeClaim to keep the data in
    instead. It runs as ``run_as_user`` (non-root) under Pod Security "restricted" with a
    read-only root filesystem; ``Recreate``, since two Postgres pods must never share a data
    directory. Its password is ``password_key`` of the LiteLLM group (only that key reaches it).
    """

    image: ImageRef = POSTGRES_IMAGE
    name: str = "postgres"
    database: str = "litellm"
    user: str = "litellm"
    password_key: str = DEFAULT_PASSWORD_KEY
    data_size_mib: int = 1024
    persistent_claim: str | None = None
    run_as_user: int = POSTGRES_UID

    def __post_init__(self) -> None:
        what = "in-cluster postgres"
        if not is_dns_label(self.name) or self.name == "litellm":
            raise SynthError(
                f"{what} name '{self.name}' must be a DNS-1123 label other than 'litellm'"
            )
        _check_names(self.database, self.user, self.password_key, what)
        if self.data_size_mib < 64 or self.run_as_user < 1:
            raise SynthError(f"{what} needs data_size_mib >= 64 and a non-root run_as_user")
        if self.persistent_claim is not None and not is_dns_label(self.persistent_claim):
            raise SynthError(
                f"{what} persistent_claim '{self.persistent_claim}' is not a "
                "PersistentVolumeClaim name"
            )


DatabaseSpec = ExistingPostgres | InClusterPostgres


@dataclass(frozen=True)
class PostgresConnection:
    """What every process that talks to the database is told, however it is provided."""

    host: str
    port: int
    database: str
    user: str
    password_key: str
    sslmode: SslMode

    def plain_env(self) -> dict[str, str]:
        """The non-secret ``DATABASE_*`` variables (the password comes from the Secret)."""
        return {
            HOST_VARIABLE: f"{self.host}:{self.port}",
            USER_VARIABLE: self.user,
            NAME_VARIABLE: self.database,
            SSLMODE_VARIABLE: self.sslmode.value,
        }


def connection_of(database: DatabaseSpec) -> PostgresConnection:
    if isinstance(database, InClusterPostgres):
        # The Service of the same name in the same namespace; TLS inside the pod network is
        # not set up for the development server.
        return PostgresConnection(
            host=database.name,
            port=POSTGRES_PORT,
            database=database.database,
            user=database.user,
            password_key=database.password_key,
            sslmode=SslMode.DISABLE,
        )
    return PostgresConnection(
        host=database.host,
        port=database.port,
        database=database.database,
        user=database.user,
        password_key=database.password_key,
        sslmode=database.sslmode,
    )
