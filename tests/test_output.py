"""dist/ is replaced whole or not at all."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from lib.output import RenderedFile, render, write_atomically
from tests.helpers import tree_bytes

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"A": "b"}}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def file(name: str, obj: Mapping[str, object], *, private: bool = False) -> RenderedFile:
    return RenderedFile(name=name, text=render([obj]), private=private)


def test_output_replaces_the_directory_with_exactly_the_new_files(tmp_path: Path) -> None:
    outdir = tmp_path / "dist"
    outdir.mkdir()
    (outdir / "stale.k8s.yaml").write_text("kind: Stale\n")
    write_atomically(
        outdir,
        [file("a.k8s.yaml", CONFIG), file("s.k8s.yaml", SECRET, private=True)],
    )
    assert sorted(p.name for p in outdir.iterdir()) == ["a.k8s.yaml", "s.k8s.yaml"]
    assert (outdir / "s.k8s.yaml").stat().st_mode & 0o777 == 0o600
    assert (outdir / "a.k8s.yaml").stat().st_mode & 0o777 == 0o644
    assert list(tmp_path.iterdir()) == [outdir]  # no staging or retired directories left


def test_output_failure_while_writing_leaves_previous_output(tmp_path: Path) -> None:
    outdir = tmp_path / "dist"
    write_atomically(outdir, [file("a.k8s.yaml", CONFIG)])
    before = tree_bytes(outdir)
    # The second file cannot be created: the write fails after the first one was written.
    with pytest.raises(FileNotFoundError):
        write_atomically(outdir, [file("b.k8s.yaml", CONFIG), file("no/such/dir.yaml", CONFIG)])
    assert tree_bytes(outdir) == before
    assert list(tmp_path.iterdir()) == [outdir]


def test_output_multiline_and_non_ascii_values_round_trip_exactly() -> None:
    values = {
        "PEM": "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBg\n+/=abc\n-----END PRIVATE KEY-----\n",
        "NO_FINAL_NEWLINE": "line one\nline two",
        "TRAILING_SPACES": "a  \nb\t\n",
        "UNICODE": "clé ✓ 日本語 😀",
        "LOOKS_LIKE_BOOL": "yes",
        "LOOKS_LIKE_NUMBER": "0123",
        "LEADING_SPACE": "  x",
    }
    secret = {**SECRET, "stringData": values}
    assert yaml.safe_load(render([secret]))["stringData"] == values


def test_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    from lib.errors import SynthError

    target = tmp_path / "dist"
    target.write_text("not a directory")
    with pytest.raises(SynthError, match="exists and is not a directory"):
        write_atomically(target, [file("a.k8s.yaml", CONFIG)])


def test_output_manifest_repr_never_shows_values() -> None:
    from lib.output import ManifestFile

    secret = {"stringData": {"A": "sk-value-in-a-manifest"}}
    assert "sk-value-in-a-manifest" not in repr(ManifestFile("s.k8s.yaml", [secret]))
