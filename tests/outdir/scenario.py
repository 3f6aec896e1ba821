"""Helpers for the output-directory tests: whole-tree snapshots, refusal checks, git repos."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from lib.outdir import prepare_output, write_output
from lib.output import RenderedFile
from tests.helpers import FAKE_SECRETS, all_values

Entry = tuple[str, bytes | str | None, int]


def tree(root: Path) -> dict[str, Entry]:
    """Every entry under ``root`` (directories, links and files, not following links) with its
    content and mode: a leftover directory or a changed mode shows, not only changed bytes."""
    entries: dict[str, Entry] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(directory) / name
            info = os.lstat(path)
            mode = stat.S_IMODE(info.st_mode)
            relative = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = ("link", os.readlink(path), mode)
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = ("dir", None, mode)
            else:
                entries[relative] = ("file", path.read_bytes(), mode)
    return entries


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 1, one ``error:`` line holding ``fragments``, no traceback, no secret value."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for value in all_values(FAKE_SECRETS):
        assert value not in result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def previous_output(outdir: Path, secrets_file: Path) -> Path:
    """An earlier synth's output (stamped, with a Secret holding a value), written by the real
    write layer: what a failed synth must leave byte-identical."""
    secret = "kind: Secret\nstringData:\n  OLD: " + FAKE_SECRETS["stripe"]["STRIPE_PRICE_ID"] + "\n"
    files = [
        RenderedFile("10-secrets.k8s.yaml", secret, private=True),
        RenderedFile("20-gateway.k8s.yaml", "kind: PreviousGateway\n"),
    ]
    write_output(prepare_output(outdir, secrets_file=secrets_file, plaintext=False), files)
    return outdir


def git(repo: Path, *args: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=clean
    ).stdout


def new_repo(path: Path, gitignore: str | None = None) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "README").write_text("a repository\n")
    if gitignore is not None:
        (path / ".gitignore").write_text(gitignore)
    git(path, "add", "-A")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return path
