"""GatewayAccess and the Postgres specs refuse bad values where they are built."""

from __future__ import annotations

from typing import Any

import pytest

from lib.errors import SynthError
from lib.specs.database import ExistingPostgres, InClusterPostgres, SslMode, connection_of
from lib.specs.gateway_access import ClientVariables, GatewayAccess


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"models": ()}, "models must be a non-empty tuple"),
        ({"models": "gpt-4o-mini"}, "models must be a non-empty tuple"),
        ({"models": ("a", "a")}, "names a model twice"),
        ({"max_budget_usd": 0}, "max_budget_usd 0 must be positive"),
        ({"max_budget_usd": -1.5}, "max_budget_usd -1.5 must be positive"),
        ({"budget_duration": "30d"}, "budget_duration needs a max_budget_usd"),
        ({"max_budget_usd": 5, "budget_duration": "0d"}, "not in LiteLLM's syntax"),
        ({"max_budget_usd": 5, "budget_duration": "1 month"}, "not in LiteLLM's syntax"),
        ({"rpm_limit": 0}, "rpm_limit 0 must be a positive whole number"),
        ({"tpm_limit": 1.5}, "tpm_limit 1.5 must be a positive whole number"),
        ({"rotation_grace": "soon"}, "rotation_grace 'soon'"),
        ({"budget_alert_ratio": 1.0}, "budget_alert_ratio must be between 0 and 1"),
        ({"alias": "-bad"}, "alias '-bad' must be letters"),
        ({"metadata": {"team": 3}}, "metadata must map identifier-like names to strings"),
    ],
)
def test_gateway_access_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SynthError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GatewayAccess(**{"models": ("gpt-4o-mini",), **fields})


def test_gateway_access_accepts_litellms_durations_and_defaults() -> None:
    for duration in ("30s", "15m", "12h", "30d", "2w", "1mo"):
        GatewayAccess(models=("m",), max_budget_usd=1, budget_duration=duration)
    access = GatewayAccess(models=("m",))
    assert access.variables is ClientVariables.LITELLM
    assert access.alias_for("chatbot") == "chatbot"
    assert (ClientVariables.OPENAI.key_variable, ClientVariables.OPENAI.base_url_variable) == (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ExistingPostgres(host="user:secret@db"), "existing postgres host must be"),
        (lambda: ExistingPostgres(host="db:5432"), "host 'db:5432' must be a host name"),
        (lambda: ExistingPostgres(host="db", port=0), "port 0 must be in 1-65535"),
        (lambda: ExistingPostgres(host="db", database="lite-llm"), "database 'lite-llm'"),
        (lambda: ExistingPostgres(host="db", namespace_labels={}), "namespace_labels is empty"),
        (lambda: InClusterPostgres(name="Postgres"), "name 'Postgres' must be a DNS-1123"),
        (lambda: InClusterPostgres(data_size_mib=1), "data_size_mib >= 64"),
    ],
)
def test_database_specs_refuse(make: Any, message: str) -> None:
    with pytest.raises(SynthError, match=message) as raised:
        make()
    assert "secret" not in str(raised.value)


def test_database_connection_puts_the_port_in_the_host() -> None:
    existing = connection_of(ExistingPostgres(host="db.example.net", port=6432))
    assert existing.plain_env() == {
        "DATABASE_HOST": "db.example.net:6432",
        "DATABASE_USERNAME": "litellm",
        "DATABASE_NAME": "litellm",
        "DATABASE_SSLMODE": "require",
    }
    in_cluster = connection_of(InClusterPostgres())
    assert (in_cluster.host, in_cluster.port, in_cluster.sslmode) == (
        "postgres",
        5432,
        SslMode.DISABLE,
    )
