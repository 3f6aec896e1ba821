"""Plaintext output stays out of git, and the check fails closed.

Whether the output directory is inside a git work tree is decided here, by looking for ``.git``
up the tree, not by asking git: git's answer depends on ``GIT_DIR``/``GIT_WORK_TREE`` (set by
hooks and some IDEs) and on whether git trusts the repository at all. Once a ``.git`` is found,
git must answer, run with no inherited ``GIT_*`` variable; git missing or refusing (dubious
ownership, a damaged repository) is a refusal with what to do, never "not a work tree".
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from lib.errors import SynthError


def find_work_tree(path: Path) -> Path | None:
    """The nearest directory at or above ``path`` (absolute, resolved) that holds ``.git``."""
    for directory in (path, *path.parents):
        if os.path.lexists(directory / ".git"):
            return directory
    return None


def git_dir_of(work_tree: Path) -> Path:
    """The repository directory of ``work_tree``: ``.git`` itself, or where a ``.git`` file of a
    linked worktree or submodule (``gitdir: <path>``) points."""
    marker = work_tree / ".git"
    if marker.is_file():
        try:
            first_line = marker.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
        except OSError:
            return marker
        if first_line.startswith("gitdir:"):
            return Path(os.path.realpath(work_tree / first_line[len("gitdir:") :].strip()))
    return marker


def refuse_unignored(outdir: Path, shown: Path, staging_probe: Path) -> bool:
    """Refuse plaintext output where ``git status`` would list it: a tracked ``outdir``, or an
    ``outdir`` not git-ignored. Returns whether the repository's rules also ignore the staging
    directories (``staging_probe`` stands for their name); where they do not, each staging
    directory ignores itself (writer.py), so no second ignore line is needed."""
    work_tree = find_work_tree(outdir)
    if work_tree is None:
        return True  # not inside any work tree: nothing git could pick up
    git = shutil.which("git")
    if git is None:
        raise SynthError(
            f"{shown} is inside the git work tree {work_tree}, but git is not on PATH to check "
            "that it is git-ignored, and a synth writes decrypted secrets there: install git, "
            "or pass --outdir outside the repository"
        )
    _git(git, work_tree, shown, "rev-parse", "--show-toplevel")
    if _git(git, work_tree, shown, "ls-files", "--", str(outdir)).strip():
        raise SynthError(
            f"{shown} is tracked by git, and a synth writes decrypted secrets there: run "
            f"`git rm -r --cached {shown}`, add it to .gitignore, and rotate any value committed"
        )
    relative = outdir.relative_to(work_tree)
    patterns = f"`/{relative}/`"
    # The trailing slash lets directory patterns ("/dist/") match a directory not made yet.
    if not _ignored(git, work_tree, shown, f"{outdir}/"):
        raise SynthError(
            f"{shown} is inside a git work tree but not git-ignored, and a synth writes "
            f"decrypted secrets there: add {patterns} to .gitignore, or pass --outdir elsewhere"
        )
    return _ignored(git, work_tree, shown, f"{staging_probe}/")


def _ignored(git: str, work_tree: Path, shown: Path, path: str) -> bool:
    completed = _run(git, work_tree, "check-ignore", "-q", "--", path)
    if completed.returncode in (0, 1):
        return completed.returncode == 0
    raise _refusal(work_tree, shown, completed)


def _git(git: str, work_tree: Path, shown: Path, *args: str) -> str:
    completed = _run(git, work_tree, *args)
    if completed.returncode != 0:
        raise _refusal(work_tree, shown, completed)
    return completed.stdout


def _run(git: str, work_tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No inherited GIT_* variable may point git at another repository or work tree, and no
    # fsmonitor hook from the repository's config runs.
    environ = {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}
    try:
        return subprocess.run(
            [git, "-c", "core.fsmonitor=false", "-C", str(work_tree), *args],
            env=environ,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it did not answer within 60 s"
        raise SynthError(
            f"git at {git} could not check the work tree {work_tree} ({reason}): fix git, or "
            "pass --outdir outside the repository"
        ) from None


def _refusal(
    work_tree: Path, shown: Path, completed: subprocess.CompletedProcess[str]
) -> SynthError:
    said = next((line for line in completed.stderr.splitlines() if line.strip()), "no message")
    advice = "fix the repository"
    if "dubious ownership" in completed.stderr or "safe.directory" in completed.stderr:
        advice = (
            f"if you trust it, run `git config --global --add safe.directory {work_tree}` "
            "(or fix its ownership)"
        )
    return SynthError(
        f"git refuses to inspect the work tree {work_tree} that holds {shown} ({said.strip()}), "
        "so the synth cannot check that the decrypted secrets it writes there stay out of git: "
        f"{advice}, or pass --outdir outside the repository"
    )
