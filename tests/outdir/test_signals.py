"""Signals during the write: the output stays complete, no staging directory outlives the next
synth, and nothing appears that ``git status`` would list."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import FAKE_SECRETS, PROJECT_ROOT, AgeKey, all_values, clean_env, run_cli
from tests.outdir.scenario import assert_refused, git, new_repo, previous_output, tree

IGNORE_OUTPUT = "/dist/\n/.dist.*\n"


def start_paused(
    point: str, ready: Path, secrets: Path, outdir: Path, env: dict[str, str], group: bool = False
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.outdir.paused_synth",
            str(ready),
            point,
            "--secrets",
            str(secrets),
            "--outdir",
            str(outdir),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=group,
    )


def wait_until_paused(process: subprocess.Popen[str], ready: Path) -> str:
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the synth never reached the write"
        time.sleep(0.02)
    return ready.read_text()


def files_holding_values(root: Path) -> list[str]:
    return sorted(
        relative
        for relative, (kind, content, _) in tree(root).items()
        if kind == "file"
        and isinstance(content, bytes)
        and any(value.encode() in content for value in all_values(FAKE_SECRETS))
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo", IGNORE_OUTPUT)


@pytest.mark.parametrize(
    ("signum", "point", "group"),
    [
        (signal.SIGTERM, "before-swap", False),
        (signal.SIGHUP, "before-swap", False),
        (signal.SIGINT, "after-swap", False),
        (signal.SIGINT, "before-swap", True),
    ],
    ids=[
        "SIGTERM before the swap",
        "SIGHUP before the swap",
        "SIGINT after the swap",
        # Ctrl-C in a terminal: jsii's Node process gets it too, and must not add to stderr.
        "SIGINT to the process group",
    ],
)
def test_signals_clean_up_and_exit_with_one_line(
    signum: int,
    point: str,
    group: bool,
    repo: Path,
    fixture_secrets: Path,
    age_key: AgeKey,
    tmp_path: Path,
) -> None:
    outdir = previous_output(repo / "dist", fixture_secrets)
    before = tree(outdir)
    ready = tmp_path / "ready"
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    process = start_paused(point, ready, fixture_secrets, outdir, env, group)
    staging = repo / wait_until_paused(process, ready)
    assert files_holding_values(staging)  # plaintext is there, now: the signal must remove it
    if group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert_refused(result, f"interrupted by {signal.Signals(signum).name}", str(outdir))
    assert not staging.exists()
    assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitignore", "README", "dist"]
    if point == "before-swap":
        assert tree(outdir) == before
    else:  # swapped in already: the new output, complete
        assert (outdir / "10-secrets.k8s.yaml").read_text().count("kind: Secret") == 2
    assert git(repo, "status", "--porcelain") == ""


def test_signals_after_sigkill_the_next_synth_removes_what_was_left(
    repo: Path, fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    outdir = previous_output(repo / "dist", fixture_secrets)
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    left = []
    for point in ("before-swap", "after-swap"):
        ready = tmp_path / f"ready-{point}"
        process = start_paused(point, ready, fixture_secrets, outdir, env)
        left.append(repo / wait_until_paused(process, ready))
        process.kill()
        process.communicate(timeout=60)
    # The second synth already removed what the first left; the second left the previous output.
    assert not left[0].exists()
    assert files_holding_values(left[1])
    assert git(repo, "status", "--porcelain") == ""  # ignored even while it is there

    result = run_cli("--secrets", str(fixture_secrets), "--outdir", str(outdir), env=env)
    assert result.returncode == 0, result.stderr
    assert not left[1].exists()
    assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitignore", "README", "dist"]
    assert {path.split("/")[0] for path in files_holding_values(repo)} == {"dist"}
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "status", "--porcelain", "--ignored") == "!! dist/\n"
