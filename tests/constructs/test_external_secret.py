"""The ExternalSecret of a group: exact structure, the plain mode's Secret name as its target,
and strict validation against the vendored external-secrets.io/v1 schema."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import cdk8s
import pytest

from lib.constructs.external_secret import GroupExternalSecret
from lib.constructs.service_secret import ServiceSecret
from lib.errors import SynthError
from lib.external_secrets import ExternalSecretSource, SecretStoreRef
from lib.secrets.model import SecretGroup
from tests.helpers import FAKE_SECRETS
from tests.schema_validation import SchemaValidationError, validate_strict

NAMESPACE = "seance"
KEYS = ("LITELLM_MASTER_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")
SOURCE = ExternalSecretSource(store=SecretStoreRef(name="vault", kind="ClusterSecretStore"))


def chart() -> cdk8s.Chart:
    return cdk8s.Chart(cdk8s.App(), "c", namespace=NAMESPACE, disable_resource_name_hashes=True)


def external_secret(
    group: str = "litellm", keys: tuple[str, ...] = KEYS, source: ExternalSecretSource = SOURCE
) -> Mapping[str, Any]:
    scope = chart()
    GroupExternalSecret(scope, group, group_name=group, keys=keys, source=source)
    (obj,) = scope.to_json()
    return obj  # type: ignore[no-any-return]


def test_external_secret_exact_object() -> None:
    assert external_secret() == {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {
            "name": "litellm-secrets",
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/component": "secrets",
                "seance.dev/secret-group": "litellm",
            },
        },
        "spec": {
            "secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"},
            "refreshInterval": "1h",
            "target": {"name": "litellm-secrets", "creationPolicy": "Owner"},
            "data": [
                {
                    "secretKey": "LITELLM_MASTER_KEY",
                    "remoteRef": {"key": "seance/litellm", "property": "LITELLM_MASTER_KEY"},
                },
                {
                    "secretKey": "OPENAI_API_KEY",
                    "remoteRef": {"key": "seance/litellm", "property": "OPENAI_API_KEY"},
                },
                {
                    "secretKey": "ANTHROPIC_API_KEY",
                    "remoteRef": {"key": "seance/litellm", "property": "ANTHROPIC_API_KEY"},
                },
            ],
        },
    }


def test_external_secret_targets_the_secret_of_the_plain_mode() -> None:
    """Pods reference the Secret by name; both modes must produce the same name and labels."""
    scope = chart()
    group = SecretGroup(
        name="stripe",
        keys=tuple(FAKE_SECRETS["stripe"]),
        values=MappingProxyType(FAKE_SECRETS["stripe"]),
    )
    ServiceSecret(scope, "plain", group=group)
    GroupExternalSecret(scope, "external", group_name="stripe", keys=group.keys, source=SOURCE)
    plain, external = scope.to_json()
    assert external["spec"]["target"]["name"] == plain["metadata"]["name"] == "stripe-secrets"
    assert external["metadata"]["name"] == plain["metadata"]["name"]
    assert external["metadata"]["labels"] == plain["metadata"]["labels"]


def test_external_secret_one_data_entry_per_key_in_order() -> None:
    keys = ("STRIPE_SECRET_KEY", "STRIPE_PRICE_ID", "A_LAST_KEY")
    data = external_secret("stripe", keys)["spec"]["data"]
    assert [entry["secretKey"] for entry in data] == list(keys)
    assert [entry["remoteRef"]["property"] for entry in data] == list(keys)
    assert {entry["remoteRef"]["key"] for entry in data} == {"seance/stripe"}


def test_external_secret_store_ref_and_source_settings() -> None:
    source = ExternalSecretSource(
        store=SecretStoreRef(name="team-store", kind="SecretStore"),
        remote_key_template="apps/{group}",
        refresh_interval="15m",
    )
    spec = external_secret(source=source)["spec"]
    assert spec["secretStoreRef"] == {"name": "team-store", "kind": "SecretStore"}
    assert spec["refreshInterval"] == "15m"
    assert {entry["remoteRef"]["key"] for entry in spec["data"]} == {"apps/litellm"}


@pytest.mark.parametrize("kind", ["SecretStore", "ClusterSecretStore"])
def test_external_secret_is_valid_in_strict_mode(kind: str) -> None:
    source = ExternalSecretSource(store=SecretStoreRef(name="vault", kind=kind))  # type: ignore[arg-type]
    validate_strict(external_secret(source=source))


def test_external_secret_validator_rejects_a_typo_field() -> None:
    """Guards the test above: the API server would prune the typo and silently use 1h."""
    obj = copy.deepcopy(dict(external_secret()))
    obj["spec"]["refreshIntervall"] = obj["spec"].pop("refreshInterval")
    with pytest.raises(SchemaValidationError, match=r"'refreshIntervall' was unexpected"):
        validate_strict(obj)


def test_external_secret_validator_lists_every_error() -> None:
    obj = copy.deepcopy(dict(external_secret()))
    obj["metadata"]["lables"] = obj["metadata"].pop("labels")
    obj["spec"]["data"][1]["remoteRef"]["propery"] = "OPENAI_API_KEY"
    obj["spec"]["secretStoreRef"]["kind"] = "Store"
    with pytest.raises(SchemaValidationError) as caught:
        validate_strict(obj)
    message = str(caught.value)
    assert "$.metadata: Additional properties are not allowed ('lables'" in message
    assert "$.spec.data[1].remoteRef: Additional properties are not allowed ('propery'" in message
    assert "$.spec.secretStoreRef.kind: 'Store' is not one of" in message


def test_external_secret_validator_rejects_v1beta1() -> None:
    """ESO v0.17.0 and later no longer serve v1beta1."""
    obj = {**external_secret(), "apiVersion": "external-secrets.io/v1beta1"}
    with pytest.raises(SchemaValidationError, match=r"external-secrets\.io/v1beta1 ExternalSecret"):
        validate_strict(obj)


def test_external_secret_validator_requires_a_name() -> None:
    obj = copy.deepcopy(dict(external_secret()))
    del obj["metadata"]["name"]
    with pytest.raises(SchemaValidationError, match=r"'name' is a required property"):
        validate_strict(obj)


@pytest.mark.parametrize(
    ("template", "interval", "message"),
    [
        ("{namespace}", "1h", "does not use {group}"),
        ("{group}/{env}", "1h", "uses unknown fields ['env']"),
        ("{group:>10}", "1h", "has a field other than a plain name"),
        ("{group", "1h", "is not a valid template"),
        ("{group}", "1 hour", "refresh interval '1 hour' is not a Go duration"),
        ("{group}", "-1h", "refresh interval '-1h' is not a Go duration"),
    ],
)
def test_external_secret_source_refuses_bad_settings(
    template: str, interval: str, message: str
) -> None:
    store = SecretStoreRef(name="vault", kind="SecretStore")
    with pytest.raises(SynthError) as caught:
        ExternalSecretSource(store=store, remote_key_template=template, refresh_interval=interval)
    assert message in str(caught.value)


@pytest.mark.parametrize("interval", ["0", "1h", "2h30m", "1.5h", "90s", "500ms"])
def test_external_secret_source_accepts_go_durations(interval: str) -> None:
    assert ExternalSecretSource(store=SOURCE.store, refresh_interval=interval).refresh_interval


@pytest.mark.parametrize(
    ("name", "kind"), [("Vault", "SecretStore"), ("", "SecretStore"), ("vault", "Store")]
)
def test_external_secret_store_ref_refuses_bad_values(name: str, kind: str) -> None:
    with pytest.raises(SynthError):
        SecretStoreRef(name=name, kind=kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("keys", [(), ("A", "B", "A")])
def test_external_secret_refuses_missing_or_repeated_keys(keys: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="secret group 'litellm'"):
        GroupExternalSecret(chart(), "g", group_name="litellm", keys=keys, source=SOURCE)
