"""The refused output directories: one real CLI process per row.

Every row: exit 1, exactly one ``error:`` line naming the cause, no traceback, no secret value,
and everything under the row's area (the previous output, unrelated files, the place a staging
directory would go) exactly as it was, down to directories and modes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from lib.errors import SynthError
from lib.outdir import prepare_output
from lib.outdir.stamp import STAMP_NAME, stamp_text
from lib.project import PROJECT_ROOT
from tests.helpers import (
    FAKE_SECRETS,
    AgeKey,
    clean_env,
    encrypt_document,
    run_cli,
)
from tests.outdir.scenario import assert_refused, git, new_repo, previous_output, tree

IGNORE_OUTPUT = "/dist/\n/.dist.*\n"


@dataclass
class Scene:
    tmp: Path
    area: Path  # must be byte-identical after the refused synth
    secrets: Path  # outside the area
    key: AgeKey
    home: Path
    cleanups: list[Callable[[], object]] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        defaults = {"SOPS_AGE_KEY_FILE": str(self.key.key_file), "HOME": str(self.home)}
        return clean_env(**{**defaults, **overrides})

    def mount_tmpfs(self, path: Path, size: str) -> Path:
        path.mkdir(parents=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert mounted.returncode == 0, (
            f"this row needs root and `mount` (tmpfs) to make a small or read-only filesystem: "
            f"{mounted.stderr.strip()}"
        )
        self.cleanups.append(lambda: subprocess.run(["umount", "-l", str(path)], check=False))
        return path

    def bin_dir(self, *tools: str) -> str:
        """A PATH holding only ``tools`` (python, sops and jsii's runtime are found by path)."""
        directory = self.tmp / ("bin-" + "-".join(tools or ("none",)))
        directory.mkdir(exist_ok=True)
        for tool in tools:
            found = shutil.which(tool)
            assert found, f"{tool} is needed for this test"
            (directory / tool).symlink_to(found)
        return str(directory)


@dataclass(frozen=True)
class Run:
    outdir: str
    env: dict[str, str]
    cwd: Path = PROJECT_ROOT
    secrets: Path | None = None


@dataclass(frozen=True)
class Row:
    setup: Callable[[Scene], Run]
    expected: tuple[str, ...]


def _cwd_with_notes(s: Scene) -> Run:
    work = s.area / "work"
    work.mkdir()
    (work / "notes.txt").write_text("my notes\n")
    (work / "main.go").write_text("package main\n")
    return Run(".", s.env(), cwd=work)


def _holds_the_secrets_file(s: Scene) -> Run:
    (s.area / "dir").mkdir()
    secrets = s.area / "dir" / "secrets.yaml"
    shutil.copy(s.secrets, secrets)
    return Run(str(s.area / "dir"), s.env(), secrets=secrets)


def _ancestor_of_the_secrets_file(s: Scene) -> Run:
    (s.area / "a" / "b").mkdir(parents=True)
    secrets = s.area / "a" / "b" / "secrets.yaml"
    shutil.copy(s.secrets, secrets)
    return Run(str(s.area / "a"), s.env(), secrets=secrets)


def _holds_the_key_file(s: Scene) -> Run:
    (s.area / "keys").mkdir()
    key = s.area / "keys" / "mine.agekey"
    shutil.copy(s.key.key_file, key)
    return Run(str(s.area / "keys"), s.env(SOPS_AGE_KEY_FILE=str(key)))


def _ancestor_of_the_default_key_file(s: Scene) -> Run:
    home = s.area / "home"
    (home / ".config" / "sops" / "age").mkdir(parents=True)
    (home / ".config" / "sops" / "age" / "keys.txt").write_text("# a key\n")
    return Run(str(home / ".config"), s.env(HOME=str(home)))


def _repo_root(s: Scene) -> Run:
    repo = new_repo(s.area / "repo", IGNORE_OUTPUT)
    return Run(str(repo), s.env())


def _inside_dot_git(s: Scene) -> Run:
    repo = new_repo(s.area / "repo", IGNORE_OUTPUT)
    return Run(str(repo / ".git" / "x"), s.env())


def _foreign_file(s: Scene) -> Run:
    (s.area / "dist").mkdir()
    (s.area / "dist" / "notes.txt").write_text("keep me\n")
    return Run(str(s.area / "dist"), s.env())


def _owned_output_plus_a_foreign_file(s: Scene) -> Run:
    previous_output(s.area / "dist", s.secrets)
    (s.area / "dist" / "notes.txt").write_text("keep me\n")
    return Run(str(s.area / "dist"), s.env())


def _output_of_an_earlier_version(s: Scene) -> Run:
    (s.area / "dist").mkdir()
    (s.area / "dist" / "20-gateway.k8s.yaml").write_text("kind: Unstamped\n")
    return Run(str(s.area / "dist"), s.env())


def _a_file(s: Scene) -> Run:
    (s.area / "dist").write_text("a file\n")
    return Run(str(s.area / "dist"), s.env())


def _a_symlink(s: Scene) -> Run:
    previous_output(s.area / "real", s.secrets)
    (s.area / "dist").symlink_to("real")
    return Run(str(s.area / "dist"), s.env())


def _git_variables_point_elsewhere(s: Scene) -> Run:
    repo = new_repo(s.area / "repo")  # dist/ is not ignored here
    other = new_repo(s.area / "other", "/dist/\n/.dist.*\n")
    return Run(
        str(repo / "dist"),
        s.env(GIT_DIR=str(other / ".git"), GIT_WORK_TREE=str(other)),
    )


def _repo_owned_by_another_user(s: Scene) -> Run:
    repo = new_repo(s.area / "repo", IGNORE_OUTPUT)
    for directory, dirnames, filenames in os.walk(repo):
        for name in [directory, *(os.path.join(directory, n) for n in dirnames + filenames)]:
            os.lchown(name, 12345, 12345)
    return Run(str(repo / "dist"), s.env())


def _git_missing_while_dot_git_exists(s: Scene) -> Run:
    repo = new_repo(s.area / "repo", IGNORE_OUTPUT)
    return Run(str(repo / "dist"), s.env(PATH=s.bin_dir("node")))


def _damaged_repository(s: Scene) -> Run:
    repo = new_repo(s.area / "repo", IGNORE_OUTPUT)
    (repo / ".git" / "HEAD").write_text("garbage\n")
    return Run(str(repo / "dist"), s.env())


def _read_only_filesystem(s: Scene) -> Run:
    mount = s.mount_tmpfs(s.area / "ro", "1m")
    previous_output(mount / "dist", s.secrets)
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    return Run(str(mount / "dist"), s.env())


def _no_space_left(s: Scene) -> Run:
    mount = s.mount_tmpfs(s.area / "small", "64k")
    previous_output(mount / "dist", s.secrets)
    big = {**FAKE_SECRETS, "stripe": {**FAKE_SECRETS["stripe"], "BIG": "b" * 200_000}}
    secrets = encrypt_document(big, s.tmp / "big.yaml", s.key.recipient)
    return Run(str(mount / "dist"), s.env(), secrets=secrets)


def _a_mount_point(s: Scene) -> Run:
    mount = s.mount_tmpfs(s.area / "mnt", "1m")
    # Written by hand: the write layer itself cannot swap a mount point, which is this row.
    (mount / "20-gateway.k8s.yaml").write_text("kind: PreviousGateway\n")
    (mount / STAMP_NAME).write_text(stamp_text(["20-gateway.k8s.yaml"]))
    return Run(str(mount), s.env())


def _immutable(s: Scene) -> Run:
    previous_output(s.area / "dist", s.secrets)
    subprocess.run(["chattr", "+i", str(s.area / "dist")], check=True)
    s.cleanups.append(lambda: subprocess.run(["chattr", "-i", str(s.area / "dist")], check=False))
    return Run(str(s.area / "dist"), s.env())


def _name_too_long(s: Scene) -> Run:
    return Run(str(s.area / ("d" * 250)), s.env())


def _symlink_loop(s: Scene) -> Run:
    (s.area / "loop").symlink_to("loop")
    return Run(str(s.area / "loop" / "dist"), s.env())


def _broken_tmpdir(s: Scene) -> Run:
    previous_output(s.area / "dist", s.secrets)
    return Run(str(s.area / "dist"), s.env(TMPDIR=str(s.tmp / "no-such-dir")))


def _node_missing(s: Scene) -> Run:
    previous_output(s.area / "dist", s.secrets)
    return Run(str(s.area / "dist"), s.env(PATH=s.bin_dir("git")))


def _same_as_the_cdk8s_cli_output(s: Scene) -> Run:
    previous_output(s.area / "dist", s.secrets)
    return Run(str(s.area / "dist"), s.env(CDK8S_OUTDIR=str(s.area / "dist")))


ROWS = {
    "cwd with notes": Row(_cwd_with_notes, ("refusing --outdir .: it is the current directory",)),
    "holds the secrets file": Row(_holds_the_secrets_file, ("contains the secrets file",)),
    "ancestor of the secrets file": Row(
        _ancestor_of_the_secrets_file, ("contains the secrets file",)
    ),
    "holds the key file": Row(_holds_the_key_file, ("contains the age key file",)),
    "ancestor of the default key file": Row(
        _ancestor_of_the_default_key_file, ("contains the age key file", "sops/age/keys.txt")
    ),
    "repository root": Row(_repo_root, ("is the root of the git repository",)),
    "inside .git": Row(_inside_dot_git, ("is inside a .git directory",)),
    "a foreign file": Row(
        _foreign_file, ("it holds notes.txt, which this tool did not write", "move them")
    ),
    "owned output plus a foreign file": Row(
        _owned_output_plus_a_foreign_file, ("it holds notes.txt, which this tool did not write",)
    ),
    "output of an earlier version": Row(
        _output_of_an_earlier_version, ("20-gateway.k8s.yaml", "from an earlier version")
    ),
    "a file": Row(_a_file, ("exists and is not a directory",)),
    "a symlink": Row(_a_symlink, ("is a symbolic link",)),
    "GIT_DIR and GIT_WORK_TREE elsewhere": Row(
        _git_variables_point_elsewhere, ("is inside a git work tree but not git-ignored",)
    ),
    "repository of another user": Row(
        _repo_owned_by_another_user,
        ("git refuses to inspect the work tree", "dubious ownership", "safe.directory"),
    ),
    "git missing": Row(_git_missing_while_dot_git_exists, ("git is not on PATH",)),
    "damaged repository": Row(_damaged_repository, ("git refuses to inspect the work tree",)),
    "read-only filesystem": Row(
        _read_only_filesystem, ("Read-only file system", "the previous output is unchanged")
    ),
    "no space left": Row(_no_space_left, ("No space left on device", "free space")),
    "a mount point": Row(_a_mount_point, ("Device or resource busy",)),
    "immutable": Row(_immutable, ("Operation not permitted", "immutable")),
    "name too long": Row(_name_too_long, ("File name too long", "shorter --outdir")),
    "symlink loop": Row(_symlink_loop, ("area/loop: File exists",)),
    "broken TMPDIR": Row(_broken_tmpdir, ("TMPDIR=", "is not a usable directory")),
    "Node missing": Row(_node_missing, ("Node.js is needed", "not on PATH")),
    "same as the cdk8s CLI output": Row(
        _same_as_the_cdk8s_cli_output, ("(CDK8S_OUTDIR) and --outdir", "overlap")
    ),
}


@pytest.fixture
def scene(tmp_path: Path, age_key: AgeKey) -> Iterator[Scene]:
    (tmp_path / "area").mkdir()
    (tmp_path / "home").mkdir()
    secrets = encrypt_document(FAKE_SECRETS, tmp_path / "secrets.yaml", age_key.recipient)
    scene = Scene(tmp_path, tmp_path / "area", secrets, age_key, tmp_path / "home")
    yield scene
    for cleanup in reversed(scene.cleanups):
        cleanup()


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_refusals_table(row: Row, scene: Scene) -> None:
    run = row.setup(scene)
    before = tree(scene.area)
    result = run_cli(
        "--secrets",
        str(run.secrets or scene.secrets),
        "--outdir",
        run.outdir,
        env=run.env,
        cwd=run.cwd,
    )
    assert_refused(result, *row.expected)
    assert tree(scene.area) == before


def test_refusals_the_project_root_and_the_filesystem_root(tmp_path: Path) -> None:
    """In-process, so that a regression cannot wipe this checkout."""
    default_secrets = PROJECT_ROOT / "secrets" / "secrets.yaml"
    for outdir, reason in [
        (PROJECT_ROOT, "is the root of the git repository"),
        (PROJECT_ROOT / "secrets", "contains the secrets file"),
        (PROJECT_ROOT.parent, "contains the secrets file"),
        (PROJECT_ROOT / ".git" / "x", "is inside a .git directory"),
        (Path("/"), "is the filesystem root"),
    ]:
        with pytest.raises(SynthError, match=reason):
            prepare_output(outdir, secrets_file=default_secrets, plaintext=True)
    with pytest.raises(SynthError, match=r"contains the age key file .*demo-age-key\.txt"):
        prepare_output(PROJECT_ROOT / "secrets", secrets_file=tmp_path / "s.yaml", plaintext=True)


def test_refusals_the_current_directory_is_fine_when_it_is_an_output(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd dist && python ../main.py --outdir .` may replace a directory this tool wrote."""
    outdir = previous_output(scene.area / "dist", scene.secrets)
    monkeypatch.chdir(outdir)
    target = prepare_output(Path("."), secrets_file=scene.secrets, plaintext=True)
    assert target.path == outdir


def test_refusals_ignored_repo_output_is_written_and_git_status_stays_clean(scene: Scene) -> None:
    repo = new_repo(scene.area / "repo", IGNORE_OUTPUT)
    result = run_cli(
        "--secrets", str(scene.secrets), "--outdir", str(repo / "dist"), env=scene.env()
    )
    assert result.returncode == 0, result.stderr
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "status", "--porcelain", "--ignored") == "!! dist/\n"
    secrets = list(yaml.safe_load_all((repo / "dist" / "10-secrets.k8s.yaml").read_text()))
    assert secrets[0]["stringData"] == FAKE_SECRETS["litellm"]
