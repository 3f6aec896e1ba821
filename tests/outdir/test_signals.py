"""Signals during the write: the output stays complete, no staging directory outlives the next
synth, and nothing appears that ``git status`` would list."""

from __future__ import annotations

import contextlib
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
    point: str,
    ready: Path,
    secrets: Path,
    outdir: Path,
    env: dict[str, str],
    group: bool = False,
    module: str = "paused_synth",
) -> subprocess.Popen[str]:
    """The synth as ``tests.outdir.<module>``: paused at ``point`` until ``ready`` is read."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            f"tests.outdir.{module}",
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


def start_entry(
    point: str, ready: Path, secrets: Path, outdir: Path, env: dict[str, str]
) -> subprocess.Popen[str]:
    # Its own process group, as a terminal's Ctrl-C reaches it.
    return start_paused(point, ready, secrets, outdir, env, group=True, module="paused_entry")


@pytest.mark.parametrize("point", ["import", "before-swap", "after-write", "at-exit"])
def test_signals_ctrl_c_at_any_point_is_one_line_or_a_finished_synth(
    point: str, repo: Path, fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """SIGINT to the whole process group (Ctrl-C: Node gets it too) from main.py's first
    imports to jsii's Node shutdown at exit. Before the output is complete: exit 1 and one line.
    After: the synth has finished, so it finishes (report, exit 0) and stderr stays empty."""
    outdir = previous_output(repo / "dist", fixture_secrets)
    before = tree(outdir)
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    for run in range(2):
        ready = tmp_path / f"ready-{run}"
        process = start_entry(point, ready, fixture_secrets, outdir, env)
        wait_until_paused(process, ready)
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if point in ("import", "before-swap"):
            assert_refused(result, "interrupted by SIGINT", "nothing half-written was left")
            assert stdout == ""
            assert tree(outdir) == before
        else:
            assert (result.returncode, stderr) == (0, ""), (result.returncode, stderr)
            assert f"wrote {outdir}/: 00-namespace.k8s.yaml" in stdout
            assert (outdir / "10-secrets.k8s.yaml").read_text().count("kind: Secret") == 2
        assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitignore", "README", "dist"]
        assert git(repo, "status", "--porcelain") == ""


def test_signals_sigterm_after_the_write_finishes_the_synth(
    repo: Path, fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    outdir = repo / "dist"
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    ready = tmp_path / "ready"
    process = start_entry("at-exit", ready, fixture_secrets, outdir, env)
    wait_until_paused(process, ready)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (0, "")
    assert f"wrote {outdir}/" in stdout


def wait_for_handler(pid: int, signum: int) -> None:
    """Until the process catches ``signum`` (its SigCgt mask in /proc): Python itself catches
    only SIGINT at start-up, so SIGTERM being caught means lib/entry.py's handlers are in."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            status = Path(f"/proc/{pid}/status").read_text()
            caught = int(
                next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1],
                16,
            )
            if caught & (1 << (signum - 1)):
                return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} never caught signal {signum}")


def test_signals_ctrl_c_at_random_moments_never_breaks_the_contract(
    repo: Path, fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """The real main.py, no pause: Ctrl-C at moments spread over a whole synth (~1 s) and
    just after it."""
    outdir = previous_output(repo / "dist", fixture_secrets)
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    outcomes = set()
    # None: the first moment main.py's handlers are in place. Before that the interpreter is
    # still starting (no code of ours has run, nothing can be left behind) and Python's own
    # start-up decides what a signal does: out of reach of any program, so not tested here.
    for delay in (None, 0.03, 0.08, 0.2, 0.4, 0.6, 0.75, 0.9, 1.2, 2.5):
        process = subprocess.Popen(
            [
                sys.executable,
                str(PROJECT_ROOT / "main.py"),
                "--secrets",
                str(fixture_secrets),
                "--outdir",
                str(outdir),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        if delay is None:
            wait_for_handler(process.pid, signal.SIGTERM)
        else:
            time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):  # already finished
            os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert "Traceback" not in stdout + stderr, (delay, stderr)
        assert "Exception ignored" not in stderr, (delay, stderr)
        assert process.returncode in (0, 1), (delay, process.returncode, stderr)
        if process.returncode == 1:
            assert len(stderr.splitlines()) == 1, (delay, stderr)
            assert stderr.startswith("error: interrupted by SIGINT"), (delay, stderr)
        else:
            assert stderr == "", (delay, stderr)
        outcomes.add(process.returncode)
        assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitignore", "README", "dist"]
        assert sorted(p.name for p in outdir.iterdir())[:2] == [".gitignore", ".seance-synth"]
        assert git(repo, "status", "--porcelain") == ""
    assert outcomes == {0, 1}  # both sides of the write were hit
