from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

# The database-backed end-to-end fixtures (Postgres, fake upstream, proxy), session-scoped.
from tests.database_fixtures import database_proxy, database_upstream, postgres  # noqa: F401
from tests.helpers import FAKE_SECRETS, AgeKey, encrypt_document, new_age_key
from tests.oci_registry import LocalRegistry, TokenService, running_registry, serving_tokens

# jsii's Node 20 end-of-life banner would otherwise fill every captured stderr.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# The modules that boot real proxies take the longest (45-55 s each alone on a loaded 2-core
# machine, about half of it one session fixture; `pytest --durations`). Under pytest-xdist
# (pyproject.toml) they go first, longest first, so the workers start on them and the rest of
# the suite fills in beside them instead of waiting after them; the other tests keep their
# order. The database module is as slow: Postgres, then a proxy that boots on it in 15-35 s
# (docs/testing-database.md), then spend written in batches about every 10 s.
SLOWEST_FIRST = (
    "test_litellm_e2e.py",
    "test_shutdown_keepalive_e2e.py",
    "test_scaling_e2e.py",
    "test_database_e2e.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


class YamlSnapshotExtension(SingleFileSnapshotExtension):
    """One readable .yaml file per snapshot, so a reviewer reads a manifest diff."""

    _write_mode = WriteMode.TEXT
    file_extension = "yaml"


@pytest.fixture
def yaml_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(YamlSnapshotExtension)


@pytest.fixture(scope="session")
def age_key(tmp_path_factory: pytest.TempPathFactory) -> AgeKey:
    """A throwaway age key generated for this test run."""
    return new_age_key(tmp_path_factory.mktemp("age"))


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A distribution registry on a free 127.0.0.1 port, started once for the session."""
    with running_registry(tmp_path_factory.mktemp("registry")) as registry:
        yield registry


@pytest.fixture(scope="session")
def token_service(tmp_path_factory: pytest.TempPathFactory) -> TokenService:
    return TokenService(tmp_path_factory.mktemp("token-service"))


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, token_service: TokenService
) -> Iterator[LocalRegistry]:
    """A registry that, like ghcr.io and Docker Hub, answers 401 with a bearer challenge and
    serves only requests carrying a token from its token service."""
    with (
        serving_tokens(token_service) as realm,
        running_registry(
            tmp_path_factory.mktemp("token-registry"), token_service.auth_config(realm)
        ) as registry,
    ):
        yield registry


@pytest.fixture
def encrypted(tmp_path: Path, age_key: AgeKey) -> Callable[[object], Path]:
    """Encrypt a document to the test key with the real sops; returns the file."""

    def make(document: object, name: str = "secrets.yaml") -> Path:
        return encrypt_document(document, tmp_path / name, age_key.recipient)

    return make


@pytest.fixture
def fixture_secrets(encrypted: Callable[[object], Path]) -> Path:
    return encrypted(FAKE_SECRETS)


@pytest.fixture
def with_test_key(age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> AgeKey:
    """In-process synths decrypt with the test key only."""
    for name in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
    return age_key
