"""Inspecting SOPS files without decrypting them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from lib.errors import SynthError
from lib.secrets import encrypted_file
from lib.secrets.encrypted_file import (
    MAX_SECRETS_FILE_BYTES,
    FileFormat,
    inspect_encrypted_file,
)
from tests.helpers import (
    FAKE_SECRETS,
    AgeKey,
    cpu_seconds_at_most,
    encrypt_text,
    finishes_within,
)


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
        f"secrets file {missing} does not exist: create it with `make edit-secrets "
        f"SECRETS={missing}` "
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


# ---------------------------------------------------------------------------------------------
# Bounded input: only a regular file, at most MAX_SECRETS_FILE_BYTES, read once.


def test_encrypted_file_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "secrets.yaml"
    os.mkfifo(fifo)
    # Opening a FIFO no one writes to blocks for ever: a generous deadline turns that into a
    # failure instead of a hung suite.
    assert finishes_within(60, lambda: error_of(fifo)) == (
        f"secrets file {fifo} is a named pipe (FIFO), not a regular file: "
        "pass a SOPS YAML file with --secrets"
    )


def test_encrypted_file_character_device_is_refused() -> None:
    assert error_of(Path("/dev/zero")) == (
        "secrets file /dev/zero is a character device, not a regular file: "
        "pass a SOPS YAML file with --secrets"
    )


def test_encrypted_file_directory_is_refused(tmp_path: Path) -> None:
    assert error_of(tmp_path) == f"secrets file {tmp_path} is a directory: pass a SOPS YAML file"


def test_encrypted_file_over_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(MAX_SECRETS_FILE_BYTES + 1)  # sparse: nothing is really written
    assert error_of(big) == (
        f"secrets file {big} is larger than 4 MiB, the most a secrets file may be (a Kubernetes "
        "Secret holds at most 1 MiB): pass the right file with --secrets"
    )


def test_encrypted_file_path_through_a_file_names_the_errno(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    through = tmp_path / "file" / "secrets.yaml"
    assert error_of(through) == (
        f"secrets file {through} cannot be read (Not a directory): check the path and its "
        "permissions, or pass another file with --secrets"
    )


def test_encrypted_file_keeps_the_bytes_it_inspected(fixture_secrets: Path) -> None:
    content = fixture_secrets.read_bytes()
    inspected = inspect_encrypted_file(fixture_secrets)
    fixture_secrets.write_text("changed after inspection\n")
    assert inspected.content == content
    assert inspected.format is FileFormat.YAML


# ---------------------------------------------------------------------------------------------
# YAML markup sops never writes, refused before anything is expanded


def sops_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(body + SOPS_BLOCK)
    return path


SOPS_BLOCK = (
    "sops:\n"
    "    lastmodified: '2025-01-01T00:00:00Z'\n"
    "    mac: ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str]\n"
)
ENC_STR = "ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str]"
RESTORE = "sops files never hold them; restore it from git or re-create it with `sops`"


def test_encrypted_file_alias_bomb_is_refused_at_the_first_anchor(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 30)]
    path = sops_file(tmp_path, "\n".join(lines) + "\n")
    with cpu_seconds_at_most(1):
        assert error_of(path) == f"secrets file {path} uses a YAML anchor (line 1): {RESTORE}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"g:\n    K: {ENC_STR}\n    L: *x\n", "uses a YAML alias (line 3): " + RESTORE),
        (f"g:\n    <<:\n        K: {ENC_STR}\n", "uses a YAML merge key '<<' (line 2): " + RESTORE),
        (
            f"g:\n    K: !!binary {ENC_STR}\n",
            "uses a YAML tag !!binary (line 2): values in a secrets file are plain strings; "
            "remove the tag and quote the value with `make edit-secrets SECRETS={path}`",
        ),
        (
            f"g:\n    K: !secret-tag {ENC_STR}\n",
            "uses a YAML tag (line 2): values in a secrets file are plain strings; "
            "remove the tag and quote the value with `make edit-secrets SECRETS={path}`",
        ),
        (
            f"g:\n    K: {ENC_STR}\n    K: {ENC_STR}\n",
            "defines g.K twice (line 3): sops refuses duplicate keys; keep one with `make "
            "edit-secrets SECRETS={path}`",
        ),
        (
            f"g:\n    K: {ENC_STR}\ng:\n    L: {ENC_STR}\n",
            "defines g twice (line 3): sops refuses duplicate keys; keep one with `make "
            "edit-secrets SECRETS={path}`",
        ),
        (
            f"g:\n    K: {ENC_STR}\n" + SOPS_BLOCK,
            "defines sops twice (line 6): sops refuses duplicate keys; keep one with `make "
            "edit-secrets SECRETS={path}`",
        ),
        (
            f"g:\n    ? [a, b]\n    : {ENC_STR}\n",
            "has a list or map as a key in g (line 2): keys are names; restore it from git",
        ),
        (
            "g:\n    K: " + "[" * 3000 + "]" * 3000 + "\n",
            "nests deeper than 16 levels (line 2): secrets are group.KEY pairs; "
            "restore it from git",
        ),
        (
            f"g:\n    K: {ENC_STR}\n---\nh: x\n",
            "holds more than one YAML document (line 3): a sops file is one document; "
            "restore it from git",
        ),
    ],
    ids=[
        "alias",
        "merge key",
        "binary tag",
        "custom tag",
        "duplicate key",
        "duplicate group",
        "duplicate sops block",
        "complex key",
        "deep flow nesting",
        "second document",
    ],
)
def test_encrypted_file_yaml_markup_is_refused(tmp_path: Path, body: str, expected: str) -> None:
    path = sops_file(tmp_path, body)
    with cpu_seconds_at_most(1):
        assert error_of(path) == f"secrets file {path} " + expected.replace("{path}", str(path))


@pytest.mark.parametrize("depth", [17, 999, 1001, 3000])
@pytest.mark.parametrize("parser", ["libyaml", "pure Python"])
def test_encrypted_file_deep_flow_nesting_is_one_line_whatever_parser_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parser: str, depth: int
) -> None:
    """libyaml (PyYAML 6.0.4's) refuses more than 1000 levels itself, reading ahead of the
    events; the refusal stays ours, the same line with either of PyYAML's parsers."""
    if parser == "pure Python":
        monkeypatch.setattr(encrypted_file, "_SafeLoader", yaml.SafeLoader)
    else:
        assert encrypted_file._SafeLoader.__name__ == "CSafeLoader"  # PyYAML's wheels have it
    path = sops_file(tmp_path, "g:\n    K: " + "[" * depth + "]" * depth + "\n")
    assert error_of(path) == (
        f"secrets file {path} nests deeper than 16 levels (line 2): secrets are group.KEY "
        "pairs; restore it from git"
    )


@pytest.mark.parametrize(
    ("kind", "what", "example"),
    [
        ("int", "a number", '"100"'),
        ("float", "a number", '"1.5"'),
        ("bool", "a boolean", '"true"'),
        ("time", "a date or timestamp", '"2025-01-01"'),
        ("bytes", "binary data", '"..."'),
    ],
)
def test_encrypted_file_value_sops_typed_as_non_string_is_refused(
    tmp_path: Path, kind: str, what: str, example: str
) -> None:
    path = sops_file(tmp_path, f"g:\n    K: {ENC_STR.replace('type:str', f'type:{kind}')}\n")
    assert error_of(path) == (
        f"g.K in {path} was encrypted as {what}, not a string (sops reads an unquoted value by "
        f"its look): quote the value with `make edit-secrets SECRETS={path}`, e.g. KEY: {example}, "
        "so it reaches "
        "the Secret exactly as written"
    )


def test_encrypted_file_unquoted_date_encrypted_by_sops_is_refused(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """sops reads `2025-01-01` as a timestamp, and decrypts it as "2025-01-01T00:00:00Z"."""
    path = encrypt_text(
        "g:\n    EXPIRES: 2025-01-01\n    QUOTED: '2025-01-01'\n",
        tmp_path / "dated.yaml",
        age_key.recipient,
    )
    assert error_of(path).startswith(f"g.EXPIRES in {path} was encrypted as a date or timestamp")


# ---------------------------------------------------------------------------------------------
# Damaged versus not encrypted


def test_encrypted_file_cut_before_its_sops_block_is_damaged(fixture_secrets: Path) -> None:
    text = fixture_secrets.read_text()
    fixture_secrets.write_text(text[: text.index("sops:")])
    assert error_of(fixture_secrets) == (
        f"secrets file {fixture_secrets} has sops-encrypted values but no sops metadata: it was "
        "truncated or damaged; restore it from git"
    )


def test_encrypted_file_cut_inside_its_sops_block_is_damaged(fixture_secrets: Path) -> None:
    text = fixture_secrets.read_text()
    fixture_secrets.write_text(text[: text.index("    lastmodified:")])
    assert error_of(fixture_secrets) == (
        f"secrets file {fixture_secrets} has incomplete sops metadata (no mac or lastmodified): "
        "it was truncated or damaged; restore it from git"
    )


def test_encrypted_file_cut_inside_a_value_is_damaged(tmp_path: Path) -> None:
    path = sops_file(tmp_path, f"g:\n    K: {ENC_STR[:30]}\n")
    assert error_of(path) == (
        f"g.K in {path} is a damaged sops value (cut short or edited by hand): "
        "restore the file from git"
    )


# ---------------------------------------------------------------------------------------------
# sops JSON files are read too (sops is told --input-type json)


def test_encrypted_file_sops_json_file_is_inspected(tmp_path: Path, age_key: AgeKey) -> None:
    path = encrypt_text(json.dumps(FAKE_SECRETS), tmp_path / "secrets.json", age_key.recipient)
    inspected = inspect_encrypted_file(path)
    assert inspected.format is FileFormat.JSON
    assert inspected.age_recipients == (age_key.recipient,)
    assert inspected.key_paths == tuple(
        (group, key) for group, values in FAKE_SECRETS.items() for key in values
    )


def test_encrypted_file_json_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(f'{{"g": {{"K": "{ENC_STR}", "K": "{ENC_STR}"}}, "sops": {{}}}}')
    assert error_of(path) == (
        f"secrets file {path} defines key 'K' twice in one map: sops refuses duplicate keys; "
        f"keep one with `make edit-secrets SECRETS={path}`"
    )


def test_encrypted_file_json_nested_too_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"g": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert error_of(path) == (
        f"secrets file {path} nests deeper than 16 levels: secrets are group.KEY pairs; "
        "restore it from git"
    )


def test_encrypted_file_broken_json_is_named_json(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"g": {"K": "sk-json-plaintext"')
    message = error_of(path)
    assert message.startswith(f"secrets file {path} is not valid JSON (line 1)")
    assert "sk-json-plaintext" not in message
