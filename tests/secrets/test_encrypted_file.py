"""Inspecting SOPS files without decrypting them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lib.errors import SynthError
from lib.secrets.encrypted_file import inspect_encrypted_file
from tests.helpers import FAKE_SECRETS, AgeKey, encrypt_text


def error_of(path: Path) -> str:
    with pytest.raises(SynthError) as caught:
        inspect_encrypted_file(path)
    return str(caught.value)


def test_encrypted_file_lists_recipients_and_key_paths(
    fixture_secrets: Path, age_key: AgeKey
) -> None:
    inspected = inspect_encrypted_file(fixture_secrets)
    assert inspected.age_recipients == (age_key.recipient,)
    assert inspected.key_paths == tuple(
        (group, key) for group, values in FAKE_SECRETS.items() for key in values
    )


def test_encrypted_file_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert error_of(missing) == (
        f"secrets file {missing} does not exist: create it with `sops {missing}` "
        "or pass another file with --secrets"
    )


def test_encrypted_file_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert error_of(empty).startswith(f"secrets file {empty} is empty")


def test_encrypted_file_plaintext_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("litellm:\n  OPENAI_API_KEY: sk-plaintext-value-123\n")
    message = error_of(plain)
    assert message.startswith(f"secrets file {plain} is not SOPS-encrypted (no sops metadata)")
    assert "sk-plaintext-value-123" not in message


def test_encrypted_file_invalid_yaml_names_line_not_content(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("litellm:\n  KEY: [unclosed sk-secret-in-broken-line\n")
    message = error_of(broken)
    assert "is not valid YAML (line" in message
    assert "sk-secret-in-broken-line" not in message


def test_encrypted_file_plaintext_value_added_by_hand_is_named(
    fixture_secrets: Path,
) -> None:
    text = fixture_secrets.read_text()
    fixture_secrets.write_text(
        text.replace("stripe:\n", "stripe:\n    ADDED_BY_HAND: sk-hand-added-plaintext\n", 1)
    )
    message = error_of(fixture_secrets)
    assert message.startswith(
        f"stripe.ADDED_BY_HAND in {fixture_secrets} is stored in plaintext, not encrypted by sops"
    )
    assert "sk-hand-added-plaintext" not in message


def test_encrypted_file_key_left_out_by_encrypted_regex_is_named(
    tmp_path: Path, age_key: AgeKey
) -> None:
    path = encrypt_text(
        "litellm:\n  LITELLM_MASTER_KEY: sk-aaaaaaaaaaaaaaaaaaaaaaaaa\n  PUBLIC_NOTE: plain\n",
        tmp_path / "partial.yaml",
        age_key.recipient,
        "--encrypted-regex",
        "^LITELLM_",
    )
    assert error_of(path).startswith(f"litellm.PUBLIC_NOTE in {path} is stored in plaintext")


def test_encrypted_file_with_only_metadata_holds_no_secrets(
    encrypted: Callable[..., Path],
) -> None:
    path = encrypted({"litellm": {"K": "v"}})
    text = path.read_text()
    path.write_text(text[text.index("sops:") :])
    assert error_of(path).startswith(f"secrets file {path} holds no secrets")
