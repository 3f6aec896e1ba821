"""A real Postgres for the end-to-end tests: Debian's server, started once per session on a free
127.0.0.1 port in a temporary directory, with LiteLLM's schema applied as its release ships it.

- ``start_postgres``: ``initdb`` and ``pg_ctl`` as the ``postgres`` user (the server refuses to
  run as root). Local socket connections are trusted (the test's own administration); TCP
  connections, the only kind the proxy makes, need a password (scram-sha-256), so a test proves
  the password it passes is the one used.
- ``migrate``: the release's ``litellm_proxy_extras/migrations/*/migration.sql`` in sorted
  order, each recorded in ``_prisma_migrations`` as ``prisma migrate deploy`` records it (name,
  SHA-256 of the file, finish time, one applied step). Prisma's schema engine, which would run
  them, is a native binary that cannot be downloaded here (docs/testing-database.md). Applied
  once per session into a template database owned by a role of its own.
- ``Postgres.new_database``: a database copied from that template (fast: a file copy inside the
  server), owned by a new login role with a random password: every proxy or scenario gets its
  own, or several proxies share one.

``stop_postgres`` stops the server and removes its directory: nothing is left behind.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.proxy_harness import PROXY_BIN, free_port

POSTGRES_USER = "postgres"
START_TIMEOUT_SECONDS = 60
MIGRATIONS_DIR = next(
    (PROXY_BIN.parents[1] / "lib").glob("python3*/site-packages/litellm_proxy_extras/migrations"),
    PROXY_BIN.parents[1] / "lib" / "litellm_proxy_extras" / "migrations",
)
TEMPLATE_DATABASE = "litellm_template"
TEMPLATE_OWNER = "litellm_migrator"
# The table `prisma migrate deploy` creates and fills (prisma-engines, schema-engine's
# sql-migration-connector, Postgres flavour), column for column.
PRISMA_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);
"""


def postgres_bin_dir() -> Path:
    """Debian keeps the server's programs out of PATH, one directory per major version."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("Postgres is not installed: `make test` installs Debian's postgresql")
    return found[-1].parent


@dataclass(frozen=True)
class DatabaseLogin:
    """What a client needs to reach one database over TCP, as LiteLLM's DATABASE_* parts."""

    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)

    def litellm_env(self) -> dict[str, str]:
        """The variables LiteLLM assembles its connection from (no URL holding the password).

        The port goes into DATABASE_HOST: started with a config file, the proxy's CLI builds
        ``postgresql://user:password@{DATABASE_HOST}/{DATABASE_NAME}`` and reads no
        DATABASE_PORT (``litellm.proxy.utils.construct_database_url_from_env_vars``, 1.106.12).
        """
        return {
            "DATABASE_HOST": f"{self.host}:{self.port}",
            "DATABASE_USERNAME": self.user,
            "DATABASE_PASSWORD": self.password,
            "DATABASE_NAME": self.name,
        }


@dataclass(frozen=True)
class MigrationsApplied:
    """The release's migrations as applied into the template: names in order, and how long."""

    names: tuple[str, ...]
    seconds: float


@dataclass
class Postgres:
    """A running server: administered as the superuser over its socket, reached over TCP."""

    root: Path
    port: int
    bin_dir: Path
    migrations: MigrationsApplied | None = None

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def psql(self, database: str, sql: str, *, user: str = POSTGRES_USER) -> str:
        """Run ``sql`` (stdin, stopping at the first error); the unaligned, tuples-only output."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                *("-h", str(self.socket_dir), "-p", str(self.port), "-U", user, "-d", database),
                *("-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"),
            ],
            input=sql,
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10"},
        )
        if done.returncode != 0:
            # psql's message names the failing statement, not bound values; no secret is bound.
            raise RuntimeError(f"psql on {database} failed ({done.returncode}): {done.stderr}")
        return done.stdout

    def new_database(self, name: str | None = None) -> DatabaseLogin:
        """A fresh copy of the migrated template, owned by a new login role of its own."""
        if self.migrations is None:
            raise RuntimeError("migrate() the template first")
        suffix = uuid.uuid4().hex[:10]
        name = name or f"litellm_{suffix}"
        user, password = f"litellm_{suffix}", secrets.token_urlsafe(24)
        self.psql(
            "postgres",
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}';\n"
            f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DATABASE} OWNER {user};\n",
        )
        self.psql(name, f"REASSIGN OWNED BY {TEMPLATE_OWNER} TO {user};\n")
        return DatabaseLogin("127.0.0.1", self.port, name, user, password)


def start_postgres() -> Postgres:
    """initdb in a fresh directory under the system temp dir, then start on a free port."""
    bin_dir = postgres_bin_dir()
    account = pwd.getpwnam(POSTGRES_USER)
    # Not under pytest's temp dirs: those are private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="litellm-test-postgres-"))
    try:
        for directory in (root, root / "data", root / "socket"):
            directory.mkdir(exist_ok=True)
            os.chown(directory, account.pw_uid, account.pw_gid)
        _as_postgres(
            [
                str(bin_dir / "initdb"),
                *("-D", str(root / "data"), "-U", POSTGRES_USER, "-E", "UTF8", "--locale=C.UTF-8"),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
            ],
            root,
        )
        postgres = Postgres(root=root, port=free_port(), bin_dir=bin_dir)
        settings = [
            "listen_addresses=127.0.0.1",
            f"port={postgres.port}",
            f"unix_socket_directories={postgres.socket_dir}",
            # A throwaway server: durability buys nothing and costs seconds per migration run.
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "max_connections=200",
        ]
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                *("-D", str(postgres.data_dir), "-l", str(postgres.log)),
                *("-w", "-t", str(START_TIMEOUT_SECONDS)),
                "-o",
                " ".join(f"-c {setting}" for setting in settings),
                "start",
            ],
            root,
        )
        return postgres
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def stop_postgres(postgres: Postgres) -> None:
    try:
        _as_postgres(
            [str(postgres.bin_dir / "pg_ctl"), "-D", str(postgres.data_dir), "-m", "fast", "stop"],
            postgres.root,
            check=False,
        )
    finally:
        shutil.rmtree(postgres.root, ignore_errors=True)


def _as_postgres(argv: list[str], cwd: Path, *, check: bool = True) -> None:
    """Run a server program as the postgres user, with none of the test's groups or variables."""
    account = pwd.getpwnam(POSTGRES_USER)
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr}")


def migrate(postgres: Postgres, migrations_dir: Path = MIGRATIONS_DIR) -> MigrationsApplied:
    """Apply the release's migrations into the template database, recording each as Prisma
    does. One psql session runs them all (a process per migration costs seconds)."""
    folders = sorted(p.parent for p in migrations_dir.glob("*/migration.sql"))
    if not folders:
        raise RuntimeError(f"no migrations under {migrations_dir}: run `make test`")
    started = time.monotonic()
    postgres.psql(
        "postgres",
        f"CREATE ROLE {TEMPLATE_OWNER};\n"
        f"CREATE DATABASE {TEMPLATE_DATABASE} OWNER {TEMPLATE_OWNER};\n",
    )
    script = [f"SET ROLE {TEMPLATE_OWNER};", PRISMA_MIGRATIONS_TABLE]
    for folder in folders:
        sql_file = folder / "migration.sql"
        checksum = hashlib.sha256(sql_file.read_bytes()).hexdigest()
        script += [
            f"\\i {_psql_quoted(str(sql_file))}",
            # Values made here (a uuid, a hex digest, a quoted folder name): nothing injected.
            'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, '  # noqa: S608
            "started_at, applied_steps_count) VALUES "
            f"('{uuid.uuid4()}', '{checksum}', now(), {_sql_quoted(folder.name)}, now(), 1);",
        ]
    postgres.psql(TEMPLATE_DATABASE, "\n".join(script) + "\n")
    postgres.migrations = MigrationsApplied(
        names=tuple(f.name for f in folders), seconds=time.monotonic() - started
    )
    return postgres.migrations


def applied_migrations(postgres: Postgres, login: DatabaseLogin) -> Mapping[str, str]:
    """Migration name -> checksum, as recorded in one database."""
    rows = postgres.psql(
        login.name,
        'SELECT migration_name, checksum FROM "_prisma_migrations" '
        "WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name;\n",
    )
    return dict(line.split("|", 1) for line in rows.splitlines() if line)


def _sql_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _psql_quoted(text: str) -> str:
    """A psql meta-command argument: single-quoted, with quotes and backslashes escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
