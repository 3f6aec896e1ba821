"""Signals during the write: the output stays complete, no staging directory outlives the next
synth, and nothing appears that ``git status`` would list."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.signals import Interrupted, received_signal, signals_held, signals_interrupt
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


@pytest.fixture(autouse=True)
def sigint_as_from_a_terminal() -> Iterator[None]:
    """The synths these tests start get SIGINT at its default action, as from a terminal. Run
    from a background job of a non-interactive shell (``make test &`` in a script), pytest
    inherits SIGINT ignored and would pass that on; a synth keeps an ignored signal ignored (as
    under ``nohup``), so the Ctrl-C these tests send would never arrive."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # SIG_DFL again after exec
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
        # Ctrl-C in a terminal: the whole foreground process group gets it (not Node, which
        # runs in a group of its own: see the next tests).
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
        assert (outdir / "10-secrets.k8s.yaml").read_text().count("kind: Secret") == len(
            FAKE_SECRETS
        )
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


def children(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            pids += map(int, (task / "children").read_text().split())
    return pids


def node_children(pid: int) -> list[int]:
    """jsii's Node processes started by ``pid`` (its wrapper; the worker is the wrapper's)."""
    found = []
    for child in children(pid):
        with contextlib.suppress(FileNotFoundError):
            if Path(f"/proc/{child}/comm").read_text().strip() == "node":
                found.append(child)
    return found


@pytest.mark.parametrize(
    ("point", "finished"),
    [
        ("import", False),
        ("before-swap", False),
        ("removing-previous", False),
        ("after-write", True),
        ("at-exit", True),
        ("finalizing", True),
    ],
)
def test_signals_ctrl_c_at_any_point_is_one_line_or_a_finished_synth(
    point: str,
    finished: bool,
    repo: Path,
    fixture_secrets: Path,
    age_key: AgeKey,
    tmp_path: Path,
) -> None:
    """SIGINT to the whole process group (Ctrl-C) from main.py's first imports to Python's
    finalization, after jsii's Node shutdown. Before the output is complete and the previous
    one removed: exit 1 and one line. After: the synth has finished, so it finishes (report,
    exit 0) and stderr stays empty. Node runs in a process group of its own, so the Ctrl-C does
    not reach it (its jsii wrapper would print "Error on jsii API channel" on our stderr), and
    it ends with main.py."""
    outdir = previous_output(repo / "dist", fixture_secrets)
    before = tree(outdir)
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    for run in range(2):
        ready = tmp_path / f"ready-{run}"
        process = start_entry(point, ready, fixture_secrets, outdir, env)
        wait_until_paused(process, ready)
        nodes = node_children(process.pid)
        # None yet at the import; stopped by jsii's atexit callback before the finalization.
        assert len(nodes) == (0 if point in ("import", "finalizing") else 1), nodes
        for node in nodes:  # a group of its own: not the one a terminal's Ctrl-C reaches
            assert os.getpgid(node) == node != os.getpgid(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        Path(f"{ready}.go").touch()  # for the finalizing point: the signal was sent
        stdout, stderr = process.communicate(timeout=60)
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if not finished:
            assert_refused(result, "interrupted by SIGINT", "nothing half-written was left")
            assert stdout == ""
        else:
            assert (result.returncode, stderr) == (0, ""), (result.returncode, stderr)
            assert f"wrote {outdir}/: 00-namespace.k8s.yaml" in stdout
        if point in ("import", "before-swap"):
            assert tree(outdir) == before
        else:  # swapped in already: the new output, complete
            assert (outdir / "10-secrets.k8s.yaml").read_text().count("kind: Secret") == len(
                FAKE_SECRETS
            )
        assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitignore", "README", "dist"]
        assert git(repo, "status", "--porcelain") == ""
        for node in nodes:  # stopped by main.py at its exit (a deadline, not an expectation)
            deadline = time.monotonic() + 60
            while process_state(node) not in ("gone", "Z"):
                assert time.monotonic() < deadline, f"Node {node} outlived the synth"
                time.sleep(0.05)


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


# One step of a frozen synth's run (see ``FrozenSynth``): it can do at most this much work
# between two looks, and less when the machine is busy.
STEP_SECONDS = 0.01


class FrozenSynth:
    """The real ``main.py`` in its own process group, run in steps: frozen with SIGSTOP between
    them, so the test looks at what it has reached (its handlers, its output directory, its
    stdout) while nothing moves, and a signal sent then arrives at exactly that point when it
    is thawed. Load only makes the steps shorter; what the test expects follows from what it
    saw, never from how long anything took."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        self.stdout = b""
        self.freeze()

    def state(self) -> str:
        return process_state(self.process.pid)

    def frozen(self) -> bool:
        state = self.state()
        if state in ("T", "Z"):
            return True
        # Python starts sops and git with vfork(): until the child execs, the parent waits in
        # the kernel (state D). With the child stopped, the parent cannot move either.
        stopped = (process_state(child) == "T" for child in children(self.process.pid))
        return state == "D" and any(stopped)

    def freeze(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 60
        while not self.frozen():
            assert time.monotonic() < deadline, f"the synth never stopped ({self.state()})"
            time.sleep(0.0005)
        with contextlib.suppress(BlockingIOError):
            assert self.process.stdout is not None
            while chunk := os.read(self.process.stdout.fileno(), 65536):
                self.stdout += chunk

    def step(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)
        time.sleep(STEP_SECONDS)
        self.freeze()

    def exited(self) -> bool:
        return self.state() == "Z"

    def handlers_in(self) -> bool:
        """lib/entry.py installs SIGTERM's handler last: caught, all three are in."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))

    def ctrl_c_and_finish(self) -> tuple[int, str, str]:
        """SIGINT to the whole group (as a terminal's Ctrl-C; Node is in a group of its own),
        then thawed."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
            os.killpg(self.process.pid, signal.SIGCONT)
        stdout, stderr = self.process.communicate(timeout=120)
        return self.process.returncode, (self.stdout + stdout).decode(), stderr.decode()


def process_state(pid: int) -> str:
    """The state letter in /proc/PID/stat: T stopped, Z exited, R/S/D running or waiting."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return stat.rpartition(")")[2].split()[0]


def frozen_at(argv: list[str], env: dict[str, str], steps: int | None) -> FrozenSynth:
    """The synth frozen ``steps`` steps after its handlers are in (None: once its report is
    on stdout). Before the handlers the interpreter is still starting (no code of ours has
    run, nothing can be left behind) and Python's own start-up decides what a signal does: out
    of reach of any program, so not a moment chosen here."""
    synth = FrozenSynth(argv, env)
    while not synth.handlers_in():
        assert not synth.exited(), "the synth ended before its handlers were in"
        synth.step()
    taken = 0
    while not synth.exited() and (not synth.stdout if steps is None else taken < steps):
        synth.step()
        taken += 1
    return synth


def test_signals_ctrl_c_at_moments_over_the_whole_synth_never_breaks_the_contract(
    repo: Path, fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """The real main.py, no pause: Ctrl-C at moments spread over a whole synth (~1 s of steps
    of STEP_SECONDS), from the first moment its handlers are in to after its report. The
    outcome each moment must have follows from what the frozen process had reached: before
    the swap, exit 1 and the previous output untouched; once the report is printed, exit 0;
    in between (swapped, not yet reported) either, each with its own guarantee."""
    outdir = repo / "dist"
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    argv = [
        sys.executable,
        str(PROJECT_ROOT / "main.py"),
        "--secrets",
        str(fixture_secrets),
        "--outdir",
        str(outdir),
    ]
    reached = set()
    for steps in (0, 3, 10, 25, 45, 65, 80, 90, 100, 120, None):
        before = tree(previous_output(outdir, fixture_secrets))  # each moment starts from it
        synth = frozen_at(argv, env, steps)
        swapped, reported = tree(outdir) != before, bool(synth.stdout)
        code, stdout, stderr = synth.ctrl_c_and_finish()
        moment = (steps, swapped, reported)
        assert "Traceback" not in stdout + stderr, (moment, stderr)
        assert "Exception ignored" not in stderr, (moment, stderr)
        if reported:
            assert (code, stderr) == (0, ""), (moment, code, stderr)
        elif not swapped:
            assert code == 1, (moment, stdout)
            assert tree(outdir) == before
        if code == 1:
            assert stdout == "", (moment, stdout)
            assert len(stderr.splitlines()) == 1, (moment, stderr)
            assert stderr.startswith("error: interrupted by SIGINT"), (moment, stderr)
        else:
            assert code == 0, (moment, code, stderr)
            assert stderr == "", (moment, stderr)
            assert f"wrote {outdir}/: 00-namespace.k8s.yaml" in stdout, (moment, stdout)
        if code == 0 or swapped:
            assert (outdir / "10-secrets.k8s.yaml").read_text().count("kind: Secret") == len(
                FAKE_SECRETS
            )
        reached.add("reported" if reported else "swapped" if swapped else "before the swap")
        assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitignore", "README", "dist"]
        assert sorted(p.name for p in outdir.iterdir())[:2] == [".gitignore", ".seance-synth"]
        assert git(repo, "status", "--porcelain") == ""
    # Both sides of the write were hit: 0 steps after the handlers is long before the swap
    # (the synthesizer is not even imported), and the last moment is after the report.
    assert {"before the swap", "reported"} <= reached


def signalled_during_a_held_step(steps: list[str], fail: bool = False) -> None:
    """In the synth's window (in-process), SIGTERM arrives during a held step."""
    with signals_interrupt():
        with signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 60
            while received_signal() is None:
                assert time.monotonic() < deadline, "the signal never arrived"
                time.sleep(0.001)
            if fail:
                raise OSError("disk full")
            steps.append("the step finished")
        steps.append("went on after the signal")


def test_signals_held_step_finishes_before_the_signal_is_raised() -> None:
    """A signal during a held step (such as removing the previous output) is raised once the
    step is done, not in its middle."""
    steps: list[str] = []
    with pytest.raises(Interrupted) as raised:
        signalled_during_a_held_step(steps)
    assert steps == ["the step finished"]
    assert raised.value.name == "SIGTERM"


def test_signals_held_step_that_fails_keeps_its_own_error() -> None:
    steps: list[str] = []
    with pytest.raises(OSError, match="disk full"):
        signalled_during_a_held_step(steps, fail=True)
    assert steps == []
