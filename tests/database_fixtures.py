"""Session fixtures for the database-backed end-to-end tests (imported by tests/conftest.py, so
any test module can ask for them by name).

- ``postgres``: one real Postgres for the session, with LiteLLM's migrations applied into a
  template; ``postgres.new_database()`` hands out a fresh copy with a login of its own.
- ``database_upstream``: tests/test_litellm_e2e.py's fake OpenAI-compatible upstream, on 127.0.0.1.
- ``database_proxy``: one real proxy for the session on a database of its own, composed from the
  synthesized dev environment (models pointed at the upstream) and locked down. Tests that share
  it use keys and aliases of their own. A test that needs other objects composes its container
  and calls ``tests.database_proxy.launch_database_proxy`` itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import ThreadingHTTPServer

import pytest

from lib.environments import ENVIRONMENTS
from lib.proxy_config.spec import ModelSpec, ProxyConfigSpec
from lib.synthesis import SynthRequest, synthesize
from tests.database import Postgres, migrate, start_postgres, stop_postgres
from tests.database_proxy import DatabaseProxy, launch_database_proxy, running
from tests.helpers import FAKE_SECRETS, AgeKey, encrypt_document
from tests.pod_runtime import compose
from tests.test_litellm_e2e import UPSTREAM_MODEL, Upstream, _FakeOpenAI

# Fake, distinctive, 48 characters: long and unlike the master key, as the synth will require.
FAKE_SALT_KEY = "salt-fixture-7d3f9a1c5e2b8d4f6a0c3e7b9d1f5a2c4e"
DATABASE_MODELS = ("db-model", "db-other-model")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = start_postgres()
    try:
        migrate(server)
        yield server
    finally:
        stop_postgres(server)


@pytest.fixture(scope="session")
def database_upstream() -> Iterator[Upstream]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Upstream(port=server.server_address[1], requests=server.requests)  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def database_proxy(
    postgres: Postgres,
    database_upstream: Upstream,
    age_key: AgeKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DatabaseProxy]:
    work = tmp_path_factory.mktemp("database-proxy")
    secrets_file = encrypt_document(FAKE_SECRETS, work / "secrets.yaml", age_key.recipient)
    models = tuple(
        ModelSpec(
            name=name,
            model=f"openai/{UPSTREAM_MODEL}",
            api_base=f"http://127.0.0.1:{database_upstream.port}/v1",
            api_key_env="OPENAI_API_KEY",
        )
        for name in DATABASE_MODELS
    )
    dev = ENVIRONMENTS["dev"]
    environment = replace(
        dev,
        name="dbtest",
        proxy=ProxyConfigSpec(models=models),
        redis=None,
        # dev's chatbot declares dev's models; the gateway-key e2e tests declare their own apps.
        apps=tuple(app for app in dev.apps if app.gateway is None),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
        report = synthesize(
            SynthRequest(environment="dbtest", outdir=work / "dist", secrets_file=secrets_file),
            {"dbtest": environment},
        )
    # The pod's schema gate waits for the release's newest migration: the postgres fixture has
    # applied every migration of the release before the proxy starts.
    container = compose(
        list(report.objects), "litellm", work / "configmaps", init_containers_run_by_caller=True
    )
    # Until the synth wires the database (issue 13), these are the Deployment's missing
    # variables; the synthesized ones take their place then.
    missing_from_synth = {
        name: value
        for name, value in {
            "LITELLM_SALT_KEY": FAKE_SALT_KEY,
            "DISABLE_SCHEMA_UPDATE": "true",
        }.items()
        if name not in container.env
    }
    proxy = launch_database_proxy(
        container, postgres.new_database(), work, extra_env=missing_from_synth
    )
    with running([proxy]):
        yield proxy
