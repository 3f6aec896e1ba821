"""The database gate's pure parts: connection parameters, the release's newest migration, the
salt-key fingerprint. (Against a real Postgres it runs in the database e2e tests.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.gateway_keys.database_gate import (
    connection_parameters,
    fingerprint,
    main,
    matches,
    newest_migration,
)
from tests.helpers import PROJECT_ROOT

MIGRATIONS = sorted(
    (PROJECT_ROOT / ".venv-proxy" / "lib").glob(
        "python3*/site-packages/litellm_proxy_extras/migrations"
    )
)


def test_gate_connects_with_separate_parameters_never_a_url() -> None:
    env = {
        "DATABASE_HOST": "postgres-rw.postgres.svc.cluster.local:6432",
        "DATABASE_USERNAME": "litellm",
        "DATABASE_NAME": "litellm",
        "DATABASE_PASSWORD": "p@ss:/word?",
        "DATABASE_SSLMODE": "require",
    }
    assert connection_parameters(env) == {
        "host": "postgres-rw.postgres.svc.cluster.local",
        "port": "6432",
        "user": "litellm",
        "dbname": "litellm",
        "password": "p@ss:/word?",
        "connect_timeout": "10",
        "sslmode": "require",
    }
    no_port = connection_parameters({**env, "DATABASE_HOST": "postgres", "DATABASE_SSLMODE": ""})
    assert (no_port["host"], no_port["port"]) == ("postgres", "5432")
    assert "sslmode" not in no_port


def test_gate_newest_migration_is_the_last_folder_with_a_migration(tmp_path: Path) -> None:
    for name in ("20250101000000_first", "20260101000000_second with spaces", "20240101_old"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "migration.sql").write_text("SELECT 1;")
    (tmp_path / "20990101000000_not_a_migration").mkdir()
    (tmp_path / "migration_lock.toml").write_text("")
    assert newest_migration(tmp_path) == "20260101000000_second with spaces"


def test_gate_newest_migration_of_the_installed_release() -> None:
    """The release the project runs ships 214 migrations; the gate waits for the last one."""
    if not MIGRATIONS:
        pytest.fail("the LiteLLM proxy venv is missing: run `make test` (it builds .venv-proxy)")
    names = sorted(p.parent.name for p in MIGRATIONS[0].glob("*/migration.sql"))
    assert newest_migration(MIGRATIONS[0]) == names[-1]
    assert names[-1].startswith("2026")


def test_gate_fingerprint_needs_the_salt_key_and_is_salted() -> None:
    key = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
    salt_a, salt_b = b"a" * 16, b"b" * 16
    recorded = fingerprint(key, salt_a)
    assert matches(key, salt_a, recorded)
    assert not matches(key[:-1] + "1", salt_a, recorded)
    assert fingerprint(key, salt_b) != recorded
    assert key.encode() not in recorded


def test_gate_needs_its_variables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wait"], {"DATABASE_HOST": "postgres:5432"}) == 1
    assert capsys.readouterr().err == (
        "error: variables DATABASE_USERNAME, DATABASE_NAME, LITELLM_SALT_KEY are not set\n"
    )
    assert main(["migrate"], {}) == 2
