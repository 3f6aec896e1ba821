"""Parsing and validation of decrypted secrets; error texts pinned exactly."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from lib.errors import SynthError
from lib.secrets.model import SHARED_GROUP, Layout, SecretsDocument, parse_secrets
from tests.helpers import FAKE_MASTER_KEY, FAKE_SECRETS, all_values

SOURCE = Path("secrets/secrets.yaml")


def parse(document: Mapping[str, object]) -> SecretsDocument:
    return parse_secrets(document, SOURCE, "litellm")


def error_of(document: Mapping[str, object]) -> str:
    with pytest.raises(SynthError) as caught:
        parse(document)
    return str(caught.value)


def test_model_nested_layout_keeps_groups_in_file_order() -> None:
    secrets = parse_secrets(FAKE_SECRETS, SOURCE, "litellm")
    assert secrets.layout is Layout.NESTED
    assert [g.name for g in secrets.groups] == ["litellm", "stripe", "chatbot"]
    assert secrets.groups[1].keys == ("STRIPE_SECRET_KEY", "STRIPE_PRICE_ID")
    assert dict(secrets.groups[0].decrypted_values()) == FAKE_SECRETS["litellm"]


def test_model_flat_layout_is_one_shared_group() -> None:
    flat = {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY, "STRIPE_SECRET_KEY": "sk_test_x"}
    secrets = parse_secrets(flat, SOURCE, "litellm")
    assert secrets.layout is Layout.FLAT
    assert [g.name for g in secrets.groups] == [SHARED_GROUP]
    assert secrets.groups_for("app 'backend'", ("stripe",)) == secrets.groups


def test_model_repr_never_shows_values() -> None:
    secrets = parse_secrets(FAKE_SECRETS, SOURCE, "litellm")
    for value in all_values(FAKE_SECRETS):
        assert value not in repr(secrets)
        assert value not in repr(secrets.groups)


def test_model_number_value_says_quote_it() -> None:
    doc = {"litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY, "PORT": 4000}}
    assert error_of(doc) == (
        "secrets/secrets.yaml: group 'litellm', key 'PORT' is a number, not a string: "
        "quote the value with `make edit-secrets SECRETS=secrets/secrets.yaml`"
    )


def test_model_boolean_value_says_quote_it() -> None:
    doc = {"stripe": {"LIVE": True}, "litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY}}
    assert error_of(doc) == (
        "secrets/secrets.yaml: group 'stripe', key 'LIVE' is a boolean, not a string: quote the "
        "value with `make edit-secrets SECRETS=secrets/secrets.yaml` (YAML reads yes/no/true/false "
        "unquoted as booleans)"
    )


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_model_empty_value_is_refused(empty: object) -> None:
    doc = {"litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY, "OPENAI_API_KEY": empty}}
    assert error_of(doc) == (
        "secrets/secrets.yaml: group 'litellm', key 'OPENAI_API_KEY' is empty: give it a value "
        "with `make edit-secrets SECRETS=secrets/secrets.yaml` or remove the key"
    )


def test_model_list_value_is_refused() -> None:
    doc = {"litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY, "KEYS": ["a", "b"]}}
    assert "key 'KEYS' is a list: secrets are single strings" in error_of(doc)


def test_model_three_levels_of_nesting_is_refused() -> None:
    doc = {"litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY, "OPENAI": {"KEY": "sk-x"}}}
    assert error_of(doc) == (
        "secrets/secrets.yaml: group 'litellm', key 'OPENAI' nests further than group.KEY: "
        "secrets are KEY: value pairs inside groups; flatten it with `make edit-secrets "
        "SECRETS=secrets/secrets.yaml`"
    )


@pytest.mark.parametrize("name", ["OPENAI-API-KEY", "1KEY", "KEY WITH SPACE", "KÉY", ""])
def test_model_invalid_environment_variable_name_is_refused(name: str) -> None:
    doc = {"litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY, name: "value"}}
    assert error_of(doc) == (
        f"secrets/secrets.yaml: group 'litellm', key '{name}' is not a valid environment "
        "variable name: rename it with letters, digits and '_', not starting with a digit"
    )


@pytest.mark.parametrize("group", ["My_Service", "-stripe", "stripe-", "a" * 56, "ünï"])
def test_model_group_that_cannot_be_a_kubernetes_name_is_refused(group: str) -> None:
    doc = {"litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY}, group: {"KEY": "v"}}
    assert error_of(doc).startswith(
        f"secrets/secrets.yaml: group '{group}' cannot become a Kubernetes Secret name"
    )


def test_model_longest_group_name_makes_a_63_character_secret_name() -> None:
    group = "a" * 55
    secrets = parse({"litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY}, group: {"K": "v"}})
    assert len(secrets.groups[1].secret_name) == 63


def test_model_mixed_layouts_are_refused() -> None:
    doc = {"STRAY": "x", "litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY}}
    assert error_of(doc) == (
        "secrets/secrets.yaml: mixes top-level keys (STRAY) with groups (litellm): move each "
        "top-level key into a group with `make edit-secrets SECRETS=secrets/secrets.yaml`, or use "
        "the flat layout only"
    )


def test_model_missing_master_key_is_refused() -> None:
    assert error_of({"litellm": {"OPENAI_API_KEY": "sk-x"}}) == (
        "secrets/secrets.yaml: group 'litellm', key 'LITELLM_MASTER_KEY' is missing: LiteLLM "
        'needs a master key; generate one with `echo "sk-$(openssl rand -hex 32)"` and set it '
        "with `make edit-secrets SECRETS=secrets/secrets.yaml`"
    )


def test_model_missing_litellm_group_is_refused() -> None:
    assert "group 'litellm', key 'LITELLM_MASTER_KEY' is missing" in error_of(
        {"stripe": {"STRIPE_SECRET_KEY": "x"}}
    )


def test_model_public_default_master_key_is_refused() -> None:
    message = error_of({"litellm": {"LITELLM_MASTER_KEY": "sk-1234"}})
    assert "is LiteLLM's public default key, which anyone can use" in message
    assert "sk-1234" not in message.split(":")[0]


@pytest.mark.parametrize(
    ("master_key", "problem"),
    [
        ("0123456789abcdef0123456789abcdef", "does not start with 'sk-' as LiteLLM keys must"),
        ("sk-short", "is too short to be safe (fewer than 20 characters after 'sk-')"),
    ],
)
def test_model_weak_master_key_is_refused(master_key: str, problem: str) -> None:
    message = error_of({"litellm": {"LITELLM_MASTER_KEY": master_key}})
    assert problem in message
    assert master_key not in message


def test_model_flat_master_key_checked_in_shared_group() -> None:
    assert error_of({"OPENAI_API_KEY": "sk-x"}).startswith(
        "secrets/secrets.yaml: key 'LITELLM_MASTER_KEY' is missing"
    )


def test_model_unknown_group_for_an_app_names_it() -> None:
    secrets = parse_secrets(FAKE_SECRETS, SOURCE, "litellm")
    with pytest.raises(SynthError) as caught:
        secrets.groups_for("app 'billing'", ("payments",))
    assert str(caught.value) == (
        "app 'billing' uses secret group 'payments', which secrets/secrets.yaml does not define "
        "(it has: litellm, stripe, chatbot): add a 'payments:' map with "
        "`make edit-secrets SECRETS=secrets/secrets.yaml` or remove the group from the app in "
        "lib/environments.py"
    )


def test_model_awkward_values_come_through_unchanged() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIB\nabc==\n-----END PRIVATE KEY-----\n"
    doc = {"litellm": {"LITELLM_MASTER_KEY": FAKE_MASTER_KEY, "PEM": pem, "TEXT": "héllo ✓ 日本"}}
    values = parse(doc).groups[0].decrypted_values()
    assert values["PEM"] == pem
    assert values["TEXT"] == "héllo ✓ 日本"


@pytest.mark.parametrize(
    "master_key",
    [
        f"{FAKE_MASTER_KEY}\n",
        f"{FAKE_MASTER_KEY} ",
        "sk-" + " " * 30,
        "sk-abcdefghij klmnopqrstuvwxyz",
        "sk-abcdefghijklm\tnopqrstuvwxyz",
        "sk-abcdefghijklmnopqrstuvwxyzé",
    ],
    ids=["trailing newline", "trailing space", "spaces", "inner space", "tab", "non-ASCII"],
)
def test_model_master_key_with_whitespace_or_control_characters_is_refused(
    master_key: str,
) -> None:
    assert error_of({"litellm": {"LITELLM_MASTER_KEY": master_key}}) == (
        f"{SOURCE}: group 'litellm', key 'LITELLM_MASTER_KEY' contains a space, a line break or "
        "another character that is not printable ASCII (a trailing newline from an editor?): "
        'generate one with `echo "sk-$(openssl rand -hex 32)"` and set it with '
        f"`make edit-secrets SECRETS={SOURCE}`"
    )


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x85", "\x9f", "\ufffe", "\uffff"])
def test_model_value_with_a_character_yaml_readers_refuse_is_refused(character: str) -> None:
    document = {"litellm": {**FAKE_SECRETS["litellm"], "TOKEN": f"abc{character}def"}}
    assert error_of(document) == (
        f"{SOURCE}: group 'litellm', key 'TOKEN' contains a control character (at character 4) "
        "that YAML readers such as kubectl refuse and an environment variable cannot hold: "
        f"remove it with `make edit-secrets SECRETS={SOURCE}`"
    )


def test_model_value_with_tabs_and_line_breaks_is_kept() -> None:
    document = {"litellm": {**FAKE_SECRETS["litellm"], "PEM": "a\tb\r\nc\n"}}
    assert parse(document).groups[0].decrypted_values()["PEM"] == "a\tb\r\nc\n"


def test_model_secret_key_longer_than_kubernetes_allows_is_refused() -> None:
    long_key = "K" * 254
    document = {"litellm": {**FAKE_SECRETS["litellm"], long_key: "v"}}
    assert error_of(document) == (
        f"{SOURCE}: group 'litellm', key '{'K' * 40}...' is longer than the 253 characters "
        f"Kubernetes allows for a Secret key: shorten it with `make edit-secrets SECRETS={SOURCE}`"
    )
    ok = {"litellm": {**FAKE_SECRETS["litellm"], "K" * 253: "v"}}
    assert "K" * 253 in parse(ok).groups[0].keys


def test_model_group_over_one_mib_of_values_is_refused() -> None:
    half = "x" * (512 * 1024)
    at_limit = {"litellm": FAKE_SECRETS["litellm"], "big": {"A": half, "B": half}}
    assert parse(at_limit).groups[1].keys == ("A", "B")
    over = {"litellm": FAKE_SECRETS["litellm"], "big": {"A": half, "B": half + "é"}}
    assert error_of(over) == (
        f"{SOURCE}: group 'big' holds 1048578 bytes of values, more than the 1048576 bytes "
        f"(1 MiB) a Kubernetes Secret may hold: move some keys into another group with "
        f"`make edit-secrets SECRETS={SOURCE}`"
    )
