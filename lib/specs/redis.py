"""Where the gateway's Redis (or Valkey, which speaks the same protocol) is.

More than one proxy process (replicas x workers) needs one: LiteLLM keeps rate-limit counters,
cooldowns, routing usage and the response cache per process unless they share a Redis. Two ways
to have one: a server that already runs (``ExistingRedis``) or a small in-cluster Valkey for
development (``InClusterValkey``). Either way the proxy is handed the variables LiteLLM itself
reads (``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_PASSWORD``, ``REDIS_SSL``, ``REDIS_DB``) and its
config refers to them as ``os.environ/...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lib.errors import SynthError
from lib.names import is_dns_label, is_env_var_name
from lib.specs.image import ImageRef
from lib.specs.network import check_labels

# Pinned like the LiteLLM image: a release tag, never "latest"; pin a digest with image@sha256:...
VALKEY_IMAGE = ImageRef.parse("docker.io/valkey/valkey:8.1.1")
# A high numeric uid and gid of no user in the image: valkey-server needs no passwd entry, and a
# uid from 10000 up cannot collide with a host account's (checkov CKV_K8S_40). The image's own
# "valkey" user (999) is not used: its entrypoint, which would chown /data as root, is bypassed.
VALKEY_UID = 10001
REDIS_PORT = 6379
# The key of the LiteLLM secrets group that holds the password, unless a spec names another.
DEFAULT_PASSWORD_KEY = "REDIS_PASSWORD"  # noqa: S105 - a key name, not a password
# What the proxy reads; LiteLLM builds its coordination client from REDIS_* variables.
HOST_VARIABLE = "REDIS_HOST"
PORT_VARIABLE = "REDIS_PORT"
PASSWORD_VARIABLE = "REDIS_PASSWORD"  # noqa: S105 - a variable name
SSL_VARIABLE = "REDIS_SSL"
DB_VARIABLE = "REDIS_DB"


@dataclass(frozen=True)
class ExistingRedis:
    """A Redis or Valkey server that already runs (a managed service, a shared cluster install).

    ``host``/``port``: where it listens, as the LiteLLM pod resolves it. ``tls``: connect with
    TLS. ``db``: the database number. ``password_key``: the key of the LiteLLM secrets group that
    holds its password (``None``: the server needs none).

    ``namespace_labels``: for a server inside the cluster, the labels of its namespace (for
    example ``{"kubernetes.io/metadata.name": "valkey"}``). Only the gateway's egress policy
    (``NetworkSpec.restrict_gateway_egress``) uses it: a NetworkPolicy cannot name a host, so
    LiteLLM may reach ``port`` on the pods of those namespaces; ``None`` (a server outside the
    cluster, such as a managed service) allows ``port`` to the network's ``egress_cidrs``
    instead, as for the model providers.
    """

    host: str
    port: int = REDIS_PORT
    tls: bool = False
    db: int = 0
    password_key: str | None = DEFAULT_PASSWORD_KEY
    namespace_labels: Mapping[str, str] | None = None

    def check(self, where: str) -> None:
        _check_password_key(self.password_key, where)
        if not self.host.strip() or any(c.isspace() or c in "/@:" for c in self.host):
            # Never echo a host that may hold credentials (user:password@host).
            shown = "" if "@" in self.host else f" '{self.host}'"
            raise SynthError(
                f"{where}: redis host{shown} must be a host name, without scheme, port or "
                "credentials: set port and tls separately, the password with password_key"
            )
        if not 1 <= self.port <= 65535 or self.db < 0:
            raise SynthError(f"{where}: redis needs a port in 1-65535 and a db number >= 0")
        if self.namespace_labels is not None:
            if not self.namespace_labels:
                raise SynthError(
                    f"{where}: redis namespace_labels is empty, which would let LiteLLM reach "
                    "the Redis port in every namespace: give the labels of its namespace, or "
                    "None for a server outside the cluster"
                )
            check_labels(self.namespace_labels, f"{where}: redis namespace_labels")


@dataclass(frozen=True)
class InClusterValkey:
    """A single ephemeral Valkey pod and Service for development: no persistence, no replicas.

    Its password is the ``password_key`` of the LiteLLM secrets group, taken from the secrets
    file (never generated at synth time: a generated one would change on every synth and roll
    both pods). Valkey receives that one key only, not the whole group.
    ``max_memory_mib``: Valkey's ``maxmemory``; least recently used keys are evicted beyond it.
    ``run_as_user``: the numeric uid and gid it runs as (any non-root number works).
    """

    image: ImageRef = VALKEY_IMAGE
    name: str = "valkey"
    password_key: str = DEFAULT_PASSWORD_KEY
    max_memory_mib: int = 128
    run_as_user: int = VALKEY_UID

    def check(self, where: str, taken_names: frozenset[str]) -> None:
        """``taken_names``: the workloads of the environment, which its Service must not clash
        with."""
        _check_password_key(self.password_key, where)
        if not is_dns_label(self.name) or self.name in taken_names:
            raise SynthError(
                f"{where}: valkey name '{self.name}' must be a DNS-1123 label that no app or "
                "the proxy uses"
            )
        if self.max_memory_mib < 16 or self.run_as_user < 1:
            raise SynthError(
                f"{where}: valkey needs max_memory_mib >= 16 and a non-root run_as_user"
            )


RedisSpec = ExistingRedis | InClusterValkey


def _check_password_key(password_key: str | None, where: str) -> None:
    if password_key is not None and not is_env_var_name(password_key):
        raise SynthError(
            f"{where}: redis password_key '{password_key}' is not an environment variable name"
        )


@dataclass(frozen=True)
class RedisConnection:
    """What the proxy is told, whichever way the server is provided."""

    host: str
    port: int
    tls: bool
    db: int
    password_key: str | None

    def plain_env(self) -> dict[str, str]:
        """The non-secret REDIS_* variables of the LiteLLM container."""
        env = {HOST_VARIABLE: self.host, PORT_VARIABLE: str(self.port)}
        if self.tls:
            env[SSL_VARIABLE] = "true"
        if self.db:
            env[DB_VARIABLE] = str(self.db)
        return env

    @property
    def password_variable(self) -> str | None:
        return PASSWORD_VARIABLE if self.password_key is not None else None


def connection_of(redis: RedisSpec) -> RedisConnection:
    if isinstance(redis, InClusterValkey):
        # The Service of the same name, in the same namespace.
        return RedisConnection(
            host=redis.name, port=REDIS_PORT, tls=False, db=0, password_key=redis.password_key
        )
    return RedisConnection(
        host=redis.host,
        port=redis.port,
        tls=redis.tls,
        db=redis.db,
        password_key=redis.password_key,
    )
