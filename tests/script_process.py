"""Our scripts as the pods run them: a Job's container or an init container, composed from the
synthesized objects (tests/pod_runtime.py) and run locked down (tests/locked_down.py), with the
proxy venv's ``python`` standing in for the one in LiteLLM's image.

Those containers run ``python /<mount>/<script>.py`` in LiteLLM's image (lib/constructs/
script_container.py), whose PATH finds the image's Python with LiteLLM, ``psycopg`` and the
standard library. Here the same program comes from ``.venv-proxy`` (the release pinned in
pyproject.toml): its ``bin`` first on PATH, HOME as the image's. Everything else is the
container's own environment; the caller overrides only what a cluster resolves (a Service's
address, mapped to 127.0.0.1) and says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import PROJECT_ROOT
from tests.locked_down import command
from tests.pod_runtime import ContainerProcess
from tests.proxy_harness import PROXY_BIN

RUN_TIMEOUT_SECONDS = 300


def image_env(container: ContainerProcess, overrides: Mapping[str, str]) -> dict[str, str]:
    """What the process gets: the image's PATH and HOME, the container's env, ``overrides``."""
    return {
        "PATH": f"{PROXY_BIN.parent}:/usr/bin:/bin",
        "HOME": "/app",
        **container.env,
        **overrides,
    }


@dataclass(frozen=True)
class Finished:
    """A run to completion: exit code and both streams (they may be checked for secrets)."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


class ScriptProcesses:
    """Starts a container's program locked down; each run gets a scratch directory of its own
    below ``work``."""

    def __init__(self, work: Path) -> None:
        self._work = work
        self._runs = 0

    def start(
        self,
        container: ContainerProcess,
        overrides: Mapping[str, str],
        extra_args: Sequence[str] = (),
    ) -> subprocess.Popen[str]:
        """The container's command and args (plus ``extra_args``), not waited for."""
        self._runs += 1
        scratch = self._work / f"run-{self._runs}"
        scratch.mkdir(parents=True)
        argv = [*container.command, *container.args, *extra_args]
        return subprocess.Popen(
            command(container, argv, scratch, keep=[PROJECT_ROOT]),
            cwd="/",
            env=image_env(container, overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def run(
        self,
        container: ContainerProcess,
        overrides: Mapping[str, str],
        extra_args: Sequence[str] = (),
        timeout: float = RUN_TIMEOUT_SECONDS,
    ) -> Finished:
        """Run to completion (a generous deadline; a hang fails the test, it is not retried)."""
        return finish(self.start(container, overrides, extra_args), timeout)


def stop(process: subprocess.Popen[str]) -> None:
    """Kill a process still running and everything it started (its own session)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def finish(process: subprocess.Popen[str], timeout: float = RUN_TIMEOUT_SECONDS) -> Finished:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"did not finish within {timeout} s:\n{stdout[-2000:]}\n{stderr[-2000:]}"
        ) from None
    return Finished(process.returncode, stdout, stderr)
