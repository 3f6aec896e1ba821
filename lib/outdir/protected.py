"""Directories a synth refuses to use as its output directory, whatever they hold.

A synth replaces its output directory whole. These are refused outright, before anything is
read or decrypted: the filesystem root, any git repository's root, ``.git`` and anything inside
a repository directory, the current directory unless it is an output directory of this tool,
and any directory that contains (at any depth) the secrets file or an age key file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lib.errors import SynthError
from lib.outdir.git_guard import find_work_tree, git_dir_of
from lib.outdir.stamp import stamped_files
from lib.project import PROJECT_ROOT
from lib.secrets.demo_key import DEMO_KEY_FILE


def age_key_files(environ: Mapping[str, str]) -> list[Path]:
    """Where sops and this tool look for age keys: the demo key, ``SOPS_AGE_KEY_FILE`` and
    sops' default ``<config dir>/sops/age/keys.txt`` (``$XDG_CONFIG_HOME`` or ``~/.config``)."""
    files = [DEMO_KEY_FILE]
    if environ.get("SOPS_AGE_KEY_FILE"):
        files.append(Path(environ["SOPS_AGE_KEY_FILE"]).expanduser())
    if environ.get("XDG_CONFIG_HOME"):
        files.append(Path(environ["XDG_CONFIG_HOME"]) / "sops" / "age" / "keys.txt")
    if environ.get("HOME"):
        files.append(Path(environ["HOME"]) / ".config" / "sops" / "age" / "keys.txt")
    return files


def refuse_protected(
    outdir: Path, shown: Path, secrets_file: Path, environ: Mapping[str, str]
) -> None:
    """``outdir`` is absolute with its parent resolved; ``shown`` is how the user wrote it."""
    reason = _why_protected(outdir, secrets_file, environ)
    if reason is not None:
        raise SynthError(
            f"refusing --outdir {shown}: it {reason}, and a synth replaces its output directory "
            "whole: pass a directory of its own, such as dist"
        )


def _why_protected(outdir: Path, secrets_file: Path, environ: Mapping[str, str]) -> str | None:
    if outdir == Path(outdir.anchor):
        return "is the filesystem root"
    if ".git" in outdir.parts:
        return "is inside a .git directory"
    work_tree = find_work_tree(outdir)
    for root in (PROJECT_ROOT, work_tree):
        if outdir == root:
            return f"is the root of the git repository {root}"
    if work_tree is not None and _within(git_dir_of(work_tree), outdir):
        return f"is inside the repository directory {git_dir_of(work_tree)}"
    for path in _both_spellings(secrets_file):
        if _within(path, outdir):
            return f"contains the secrets file {secrets_file}"
    for key_file in age_key_files(environ):
        for path in _both_spellings(key_file):
            if _within(path, outdir):
                return f"contains the age key file {key_file}"
    if outdir == Path(os.path.realpath(Path.cwd())) and stamped_files(outdir) is None:
        return "is the current directory, which this tool did not write"
    return None


def _both_spellings(path: Path) -> set[Path]:
    """A path as written (made absolute) and with its links resolved: a link to a key file in
    the output directory, or a key file reached through a link, both count."""
    absolute = Path(os.path.abspath(path))
    return {absolute, Path(os.path.realpath(absolute))}


def _within(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents
