"""Manifests rendered exactly; the output directory itself is tested in tests/outdir/."""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from lib.output import RenderedFile, render

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"A": "b"}}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def file(name: str, obj: Mapping[str, object], *, private: bool = False) -> RenderedFile:
    return RenderedFile(name=name, text=render([obj]), private=private)


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


def test_output_manifest_repr_never_shows_values() -> None:
    from lib.output import ManifestFile

    secret = {"stringData": {"A": "sk-value-in-a-manifest"}}
    assert "sk-value-in-a-manifest" not in repr(ManifestFile("s.k8s.yaml", [secret]))
