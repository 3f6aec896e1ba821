"""lib/images/lock.py: the lock file read strictly, written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType

import pytest

from lib.errors import SynthError
from lib.images.lock import HEADER, LOCK_FILE, ImageLock, read_lock, render_lock, update_lock

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
ECHO = "docker.io/hashicorp/http-echo:1.0.0"
VALKEY = "docker.io/valkey/valkey:8.1.1"


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "images.lock.yaml"
    path.write_text(text)
    return path


def test_lock_round_trip_is_sorted_and_keeps_every_environment(tmp_path: Path) -> None:
    path = tmp_path / "images.lock.yaml"
    update_lock(path, "prod", {VALKEY: DIGEST_B, ECHO: DIGEST_A})
    update_lock(path, "dev", {ECHO: DIGEST_B})

    assert path.read_text() == (
        f"{HEADER}version: 1\nenvironments:\n  dev:\n    {ECHO}: {DIGEST_B}\n"
        f"  prod:\n    {ECHO}: {DIGEST_A}\n    {VALKEY}: {DIGEST_B}\n"
    )
    lock = read_lock(path)
    assert dict(lock.digests_of("prod")) == {ECHO: DIGEST_A, VALKEY: DIGEST_B}
    assert dict(lock.digests_of("dev")) == {ECHO: DIGEST_B}
    assert dict(lock.digests_of("staging")) == {}
    assert not path.with_name("images.lock.yaml.lock").exists()


def test_lock_relocking_an_environment_drops_its_stale_entries(tmp_path: Path) -> None:
    path = tmp_path / "images.lock.yaml"
    update_lock(path, "dev", {ECHO: DIGEST_A, VALKEY: DIGEST_A})
    update_lock(path, "dev", {ECHO: DIGEST_B})
    assert dict(read_lock(path).digests_of("dev")) == {ECHO: DIGEST_B}


def test_lock_absent_file_pins_nothing(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "images.lock.yaml") == ImageLock()


def test_lock_committed_file_reads_and_pins_nothing_for_the_shipped_environments() -> None:
    """No registry the shipped images live on is reachable from the machines this project is
    built on, so nothing is locked yet: dev and prod render exactly as written."""
    lock = read_lock(LOCK_FILE)
    assert lock.environments == {"dev": {}, "prod": {}}
    assert LOCK_FILE.read_text() == render_lock(lock)


def test_lock_a_second_writer_stops_and_the_first_ones_file_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "images.lock.yaml"
    update_lock(path, "dev", {ECHO: DIGEST_A})
    before = path.read_bytes()
    pending = tmp_path / "images.lock.yaml.lock"
    pending.write_text("another writer's half\n")

    with pytest.raises(SynthError) as raised:
        update_lock(path, "dev", {ECHO: DIGEST_B})

    assert str(raised.value) == (
        f"{pending} exists: another `make lock-images` is writing images.lock.yaml, or one was "
        "killed while writing; if none is running, remove that file and run the command again"
    )
    assert path.read_bytes() == before
    assert pending.read_text() == "another writer's half\n"  # not ours to remove


def test_lock_a_malformed_lock_is_not_overwritten_by_an_update(tmp_path: Path) -> None:
    path = written(tmp_path, "version: 1\nenvironments: []\n")
    with pytest.raises(SynthError, match="'environments' is not a mapping"):
        update_lock(path, "dev", {ECHO: DIGEST_A})
    assert path.read_text() == "version: 1\nenvironments: []\n"
    assert sorted(os.listdir(tmp_path)) == ["images.lock.yaml"]


def test_lock_with_environment_returns_a_new_lock() -> None:
    empty = ImageLock()
    locked = empty.with_environment("dev", {ECHO: DIGEST_A})
    assert empty.environments == MappingProxyType({})
    assert dict(locked.digests_of("dev")) == {ECHO: DIGEST_A}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty"),
        ("- a\n- b\n", "the file is not a mapping"),
        (
            "version: 1\n",
            "'version' or 'environments' missing (it holds exactly 'version' and 'environments')",
        ),
        (
            "version: 1\nenvironments: {}\nextra: 1\n",
            "unknown keys ['extra'] (it holds exactly 'version' and 'environments')",
        ),
        ("version: 2\nenvironments: {}\n", "'version' is not 1"),
        ("version: '1'\nenvironments: {}\n", "'version' is not 1"),
        ("version: 1\nenvironments:\n  dev: [a]\n", "environment 'dev' is not a mapping"),
        (
            f"version: 1\nenvironments:\n  dev:\n    {ECHO}: sha256:abc\n",
            f"environment 'dev': the digest of '{ECHO}' is not sha256:<64 lowercase hex digits>",
        ),
        (
            f"version: 1\nenvironments:\n  dev:\n    {ECHO}: {DIGEST_A.upper()}\n",
            f"environment 'dev': the digest of '{ECHO}' is not sha256:<64 lowercase hex digits>",
        ),
        (
            f"version: 1\nenvironments:\n  dev:\n    {ECHO}: 5\n",
            f"the digest of '{ECHO}' is not a string",
        ),
        (
            f"version: 1\nenvironments:\n  dev:\n    {ECHO}@{DIGEST_A}: {DIGEST_A}\n",
            f"environment 'dev': key '{ECHO}@{DIGEST_A}' is not written as repository:tag (a "
            "digest belongs in the value)",
        ),
        (
            f"version: 1\nenvironments:\n  dev:\n    'docker.io/X:1': {DIGEST_A}\n",
            "environment 'dev': image reference 'docker.io/X:1' has a malformed name "
            "'docker.io/X': write it as registry/name:tag or registry/name:tag@sha256:<64 "
            "lowercase hex digits>",
        ),
        (
            # A reviewer reads the first line; a YAML reader would use the second.
            f"version: 1\nenvironments:\n  dev:\n    {ECHO}: {DIGEST_A}\n    {ECHO}: {DIGEST_B}\n",
            f"environment 'dev' has the key '{ECHO}' twice",
        ),
        (
            f"version: 1\nenvironments:\n  dev: &pins\n    {ECHO}: {DIGEST_A}\n  prod: *pins\n",
            "it uses YAML anchors or aliases",
        ),
        (
            f"version: 1\nenvironments:\n  dev:\n    {ECHO}: !!str {DIGEST_A}\n",
            "it uses the YAML tag 'tag:yaml.org,2002:str'",
        ),
        ("version: 1\nenvironments: {dev: {\n", "it is not valid YAML (line 3)"),
        ("version: 1\n---\nversion: 1\n", "it is not valid YAML (line 2)"),
    ],
)
def test_lock_malformed_or_tampered_file_is_one_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = written(tmp_path, text)
    with pytest.raises(SynthError) as raised:
        read_lock(path)
    assert str(raised.value) == (
        f"image lock {path} is malformed: {problem}; restore it from git, or write it again "
        "with `make lock-images ENV=<environment>`"
    )


def test_lock_binary_garbage_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "images.lock.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SynthError, match=r"is malformed: it is not UTF-8 text;"):
        read_lock(path)


def test_lock_a_directory_in_its_place_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "images.lock.yaml"
    path.mkdir()
    with pytest.raises(SynthError) as raised:
        read_lock(path)
    assert str(raised.value) == (
        f"image lock {path} cannot be read (Is a directory): check its permissions, or write it "
        "again with `make lock-images ENV=<environment>`"
    )
