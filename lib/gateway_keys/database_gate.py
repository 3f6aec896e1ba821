"""The database gate: LiteLLM never serves on an older schema or with another salt key.

Runs in LiteLLM's own image (standard library plus ``psycopg``, which ``litellm-proxy-extras``
requires), shipped in a ConfigMap:

- ``python database_gate.py salt``: the first step of the release's migration Job. Records a
  fingerprint of ``LITELLM_SALT_KEY`` in the database on first use; on later runs refuses (exit
  3) a salt key that does not match it, unless ``ALLOW_SALT_KEY_ROTATION=true``, in which case
  the new fingerprint replaces the old one. A changed salt key makes every credential LiteLLM
  stored encrypted unreadable (docs/database.md).
- ``python database_gate.py wait``: the init container of every serving pod. Waits until the
  database has the newest migration this image ships applied (so a pod never serves on a schema
  older than its release expects) and the recorded fingerprint matches its salt key; exits 1 at
  ``GATE_TIMEOUT_SECONDS`` (the kubelet restarts it) and 3 at once on a salt mismatch.

The fingerprint is ``scrypt(salt_key, random 16-byte salt)``, stored with its salt in a schema of
our own (``seance_gateway``), never in LiteLLM's ``public`` schema where Prisma's migrations
could see it as drift. It needs the salt key to be checked, and the salt key is validated to be
long and random, so it reveals nothing; it stays in the cluster and is never committed.

Connection: the discrete ``DATABASE_*`` variables LiteLLM reads (``DATABASE_HOST`` is
``host:port``), passed to libpq as separate parameters: no URL with a password anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Written out in each statement (no SQL built from strings): our schema and table.
_SELECT_FINGERPRINT = (
    "SELECT salt, fingerprint FROM seance_gateway.salt_key_fingerprint WHERE id = 1"
)
# scrypt's parameters: ~16 MiB and tens of milliseconds per check.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}
KDF_NAME = "scrypt-n16384-r8-p1"
SALT_MISMATCH = 3


class GateError(Exception):
    """Told as one ``error:`` line; never carries a value."""


def fingerprint(salt_key: str, salt: bytes) -> bytes:
    return hashlib.scrypt(salt_key.encode("utf-8"), salt=salt, **SCRYPT)


def matches(salt_key: str, salt: bytes, recorded: bytes) -> bool:
    return hmac.compare_digest(fingerprint(salt_key, salt), recorded)


def connection_parameters(env: Mapping[str, str]) -> dict[str, str]:
    """libpq parameters from LiteLLM's variables; ``DATABASE_HOST`` may carry ``:port``."""
    host, _, port = env["DATABASE_HOST"].partition(":")
    parameters = {
        "host": host,
        "port": port or "5432",
        "user": env["DATABASE_USERNAME"],
        "dbname": env["DATABASE_NAME"],
        "password": env.get("DATABASE_PASSWORD", ""),
        "connect_timeout": "10",
    }
    if env.get("DATABASE_SSLMODE"):
        parameters["sslmode"] = env["DATABASE_SSLMODE"]
    return parameters


def newest_migration(migrations_dir: Path) -> str:
    """The newest migration the image ships: the folders sort by their timestamp prefix."""
    names = sorted(p.name for p in migrations_dir.iterdir() if (p / "migration.sql").is_file())
    if not names:
        raise GateError(f"no migrations under {migrations_dir}")
    return names[-1]


def _migrations_dir() -> Path:
    import litellm_proxy_extras  # type: ignore[import-not-found]  # in LiteLLM's image

    return Path(litellm_proxy_extras.__file__).parent / "migrations"


# ---------------------------------------------------------------------------------------------
# The two steps, over a DB-API connection (psycopg in the image; tests pass a real one).


def record_or_check_salt(connection: Any, salt_key: str, *, allow_rotation: bool) -> str:
    """What happened, as a line to print; raises ``GateError`` on a refused rotation."""
    with connection.transaction():
        connection.execute("CREATE SCHEMA IF NOT EXISTS seance_gateway")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS seance_gateway.salt_key_fingerprint ("
            "id integer PRIMARY KEY CHECK (id = 1), kdf text NOT NULL, salt bytea NOT NULL, "
            "fingerprint bytea NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())"
        )
        # Two Jobs at once (two releases rolling) queue here instead of racing.
        connection.execute("LOCK TABLE seance_gateway.salt_key_fingerprint IN EXCLUSIVE MODE")
        row = connection.execute(_SELECT_FINGERPRINT).fetchone()
        salt = secrets.token_bytes(16)
        if row is None:
            connection.execute(
                "INSERT INTO seance_gateway.salt_key_fingerprint (id, kdf, salt, fingerprint) "
                "VALUES (1, %s, %s, %s)",
                (KDF_NAME, salt, fingerprint(salt_key, salt)),
            )
            return "salt key fingerprint recorded"
        if matches(salt_key, bytes(row[0]), bytes(row[1])):
            return "salt key unchanged"
        if not allow_rotation:
            raise GateError(_ROTATION_REFUSED)
        connection.execute(
            "UPDATE seance_gateway.salt_key_fingerprint SET kdf = %s, salt = %s, "
            "fingerprint = %s, recorded_at = now() "
            "WHERE id = 1",
            (KDF_NAME, salt, fingerprint(salt_key, salt)),
        )
        return "salt key rotation accepted (allow_salt_key_rotation): new fingerprint recorded"


_ROTATION_REFUSED = (
    "LITELLM_SALT_KEY differs from the one this database was set up with, which would make "
    "every credential LiteLLM stored encrypted unreadable: restore the previous value, or "
    "rotate on purpose with allow_salt_key_rotation=True on the environment "
    "(docs/database.md, 'Rotate the salt key')"
)


def schema_state(connection: Any, migration: str, salt_key: str) -> str | None:
    """``None`` when the pod may serve, else what it still waits for."""
    applied = connection.execute(
        "SELECT to_regclass('public._prisma_migrations') IS NOT NULL"
    ).fetchone()[0]
    if not applied:
        return "no migrations applied yet"
    row = connection.execute(
        "SELECT 1 FROM public._prisma_migrations WHERE migration_name = %s "
        "AND finished_at IS NOT NULL AND rolled_back_at IS NULL",
        (migration,),
    ).fetchone()
    if row is None:
        return f"migration {migration} not applied yet"
    if not connection.execute(
        "SELECT to_regclass('seance_gateway.salt_key_fingerprint') IS NOT NULL"
    ).fetchone()[0]:
        return "no salt key fingerprint recorded yet"
    recorded = connection.execute(_SELECT_FINGERPRINT).fetchone()
    if recorded is None:
        return "no salt key fingerprint recorded yet"
    if not matches(salt_key, bytes(recorded[0]), bytes(recorded[1])):
        raise GateError(_ROTATION_REFUSED)
    return None


def wait_for_schema(
    connect: Callable[[], Any],
    migration: str,
    salt_key: str,
    timeout_seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    say: Callable[[str], None] = print,
) -> None:
    end = clock() + timeout_seconds
    last = ""
    while True:
        try:
            with connect() as connection:
                waiting = schema_state(connection, migration, salt_key)
        except GateError:
            raise
        except Exception as error:  # any database error means "not yet"
            waiting = f"database not reachable ({type(error).__name__})"
        if waiting is None:
            say(f"schema has {migration}; salt key matches: serving")
            return
        if waiting != last:
            say(f"waiting: {waiting}")
            last = waiting
        if clock() >= end:
            raise GateError(
                f"{waiting} after {timeout_seconds:.0f} s: check the migration Job of this "
                "release (kubectl logs job/<its name>)"
            )
        sleep(2.0)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    if args not in (["salt"], ["wait"]):
        print("usage: database_gate.py salt|wait", file=sys.stderr)
        return 2
    missing = [
        name
        for name in ("DATABASE_HOST", "DATABASE_USERNAME", "DATABASE_NAME", "LITELLM_SALT_KEY")
        if not env.get(name)
    ]
    if missing:
        print(f"error: variables {', '.join(missing)} are not set", file=sys.stderr)
        return 1
    import psycopg  # type: ignore[import-not-found]  # in LiteLLM's image

    parameters = connection_parameters(env)
    salt_key = env["LITELLM_SALT_KEY"]
    try:
        if args == ["salt"]:
            with psycopg.connect(**parameters, autocommit=True) as connection:
                allow = env.get("ALLOW_SALT_KEY_ROTATION", "").lower() == "true"
                print(record_or_check_salt(connection, salt_key, allow_rotation=allow))
        else:
            wait_for_schema(
                lambda: psycopg.connect(**parameters, autocommit=True),
                env.get("GATE_MIGRATION") or newest_migration(_migrations_dir()),
                salt_key,
                float(env.get("GATE_TIMEOUT_SECONDS", "600")),
            )
    except GateError as error:
        print(f"error: {error}", file=sys.stderr)
        return SALT_MISMATCH if str(error) == _ROTATION_REFUSED else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
