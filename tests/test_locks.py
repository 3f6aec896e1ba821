"""The locks in requirements/: what `make` installs is exactly them, and a swapped file is refused.

`make lock` generates them from the ranges in pyproject.toml (docs/dependencies.md); `make test`
installs each with `uv pip sync --require-hashes --no-build`, and uv itself with
`pip install --require-hashes`. These tests hold the locks to pyproject.toml and to the installed
environments, and show the two real installers refusing a package whose file is not the locked
one: a wheel made here under the locked name and version, offered from a local directory, with
no index and no network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from lib.environments import LITELLM_IMAGE
from tests.helpers import PROJECT_ROOT

LOCKS = PROJECT_ROOT / "requirements"
UV_VENV = PROJECT_ROOT / ".venv-uv"
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
# The Makefile's install command for every lock but uv's own (SYNC there).
SYNC_FLAGS = ["pip", "sync", "--quiet", "--require-hashes", "--no-build"]


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]


def read_lock(lock: Path) -> dict[str, Pin]:
    """``name==version`` entries with their ``--hash`` options, by canonical name; anything else
    in a lock (a range, a URL, an entry without a hash) is an error here."""
    pins: dict[str, Pin] = {}
    logical = lock.read_text().replace("\\\n", " ")
    for line in logical.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        name, equals, version = words[0].partition("==")
        hashes = tuple(w.removeprefix("--hash=") for w in words[1:] if w.startswith("--hash="))
        # Exactly one pinned version, and nothing but hashes after it.
        assert (bool(equals and version), len(hashes)) == (True, len(words) - 1), (lock, line)
        assert hashes, (lock, line)
        pins[canonicalize_name(name)] = Pin(version, hashes)
    return pins


def _requirements(*tables: tuple[str, ...]) -> list[Requirement]:
    found = []
    for path in tables:
        node: object = PYPROJECT
        for key in path:
            assert isinstance(node, dict)
            node = node[key]
        assert isinstance(node, list)
        found += [Requirement(text) for text in node]
    return found


DEPENDENCIES = ("project", "dependencies")
# lock file -> the pyproject.toml lists it is generated from, and the venv installed from it.
LOCKED: dict[str, tuple[list[tuple[str, ...]], str | None]] = {
    "synth.txt": ([DEPENDENCIES], None),
    "test.txt": ([DEPENDENCIES, ("project", "optional-dependencies", "test")], ".venv"),
    "proxy.txt": ([("tool", "litellm-proxy", "requirements")], ".venv-proxy"),
    "checkov.txt": ([("tool", "checkov", "requirements")], ".venv-checkov"),
    "uv.txt": ([("tool", "installer", "requirements")], None),
}


@pytest.mark.parametrize("lock", sorted(LOCKED))
def test_lock_pins_what_pyproject_asks_for(lock: str) -> None:
    """Every requirement of the lock's pyproject.toml lists is pinned there, at a version its
    range admits: an edited range without `make lock` fails here."""
    pins = read_lock(LOCKS / lock)
    sources, _ = LOCKED[lock]
    for requirement in _requirements(*sources):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} lacks {requirement}: run `make lock`"
        assert requirement.specifier.contains(Version(pins[name].version), prereleases=True), (
            f"{lock} pins {name}=={pins[name].version}, outside {requirement}: run `make lock`"
        )


def test_test_lock_runs_the_synth_with_the_synth_locks_versions() -> None:
    synth, test = read_lock(LOCKS / "synth.txt"), read_lock(LOCKS / "test.txt")
    assert {name: test[name].version for name in synth} == {
        name: pin.version for name, pin in synth.items()
    }


def test_proxy_lock_is_the_release_of_the_deployed_image() -> None:
    """The end-to-end tests run the proxy of the image the synth deploys."""
    assert LITELLM_IMAGE.tag == "v" + read_lock(LOCKS / "proxy.txt")["litellm"].version


# What `python -m venv` itself puts in a venv made with pip; `uv pip sync` leaves them. The venvs
# `make` creates have none (--without-pip).
SEED_PACKAGES = {"pip", "setuptools"}
_LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


@pytest.mark.parametrize("lock", [lock for lock, (_, venv) in LOCKED.items() if venv])
def test_environment_holds_exactly_its_lock(lock: str) -> None:
    venv = LOCKED[lock][1]
    assert venv is not None
    python = PROJECT_ROOT / venv / "bin" / "python"
    listed = subprocess.run(
        [str(python), "-I", "-c", _LIST_DISTRIBUTIONS], capture_output=True, text=True, check=True
    )
    installed = {canonicalize_name(n): v for n, v in json.loads(listed.stdout).items()}
    locked = {name: pin.version for name, pin in read_lock(LOCKS / lock).items()}
    extra = {n: v for n, v in installed.items() if n not in SEED_PACKAGES and n not in locked}
    assert ({n: v for n, v in installed.items() if n in locked}, extra) == (locked, {}), (
        f"{venv} is not {lock}: run `make test` (or remove {venv} and rerun it)"
    )


def _forged_wheel(directory: Path, name: str, version: str) -> tuple[Path, str]:
    """A valid, harmless wheel under a locked name and version; its path and sha256."""
    dist_info = f"{name}-{version}.dist-info"
    files: dict[str, str] = {
        f"{name}_swapped_by_test.py": "# not the locked release\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, content in files.items():
        data = content.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel, "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()


def _lock_entry(name: str, version: str, hashes: tuple[str, ...]) -> str:
    return f"{name}=={version} " + " ".join(f"--hash={h}" for h in hashes) + "\n"


@dataclass(frozen=True)
class Installer:
    """One of the two installers `make` runs, pointed at a local directory only."""

    lock: str
    package: str

    def install(self, requirements: Path, wheels: Path, target: Path) -> list[str]:
        offline = ["--no-index", "--find-links", str(wheels)]
        if self.lock == "uv.txt":
            # The bootstrap: pip, as the Makefile runs it, into a directory of the test's own.
            return [
                str(UV_VENV / "bin" / "python"),
                *("-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps"),
                *("--only-binary", ":all:", "--no-cache-dir", "--target", str(target)),
                *offline,
                *("-r", str(requirements)),
            ]
        # uv, with the flags of the Makefile's SYNC, into a new venv of the test's own; a cache
        # of its own, so the forged wheel never enters the shared one.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
        return [
            str(UV_VENV / "bin" / "uv"),
            *SYNC_FLAGS,
            *("--python", str(target / "bin" / "python"), "--offline"),
            *("--cache-dir", str(target.parent / "uv-cache"), *offline, str(requirements)),
        ]


INSTALLERS = {
    "uv": (Installer("proxy.txt", "litellm"), "Hash mismatch for `litellm==1.106.12`"),
    "pip": (
        Installer("uv.txt", "uv"),
        "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE",
    ),
}


@pytest.mark.parametrize("installer_name", sorted(INSTALLERS))
def test_installer_refuses_a_file_whose_hash_is_not_locked(
    installer_name: str, tmp_path: Path
) -> None:
    """The locked name and version, served by the index as another file: refused, nothing
    installed. The same file with its own hash in the lock installs: the hash alone decided."""
    installer, refusal = INSTALLERS[installer_name]
    pin = read_lock(LOCKS / installer.lock)[installer.package]
    wheels = tmp_path / "index"
    wheels.mkdir()
    wheel, forged_hash = _forged_wheel(wheels, installer.package, pin.version)
    assert forged_hash not in pin.hashes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull

    def install(hashes: tuple[str, ...], target: Path) -> subprocess.CompletedProcess[str]:
        requirements = tmp_path / f"{target.name}.txt"
        requirements.write_text(_lock_entry(installer.package, pin.version, hashes))
        argv = installer.install(requirements, wheels, target)
        return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)

    refused = install(pin.hashes, tmp_path / "refused")
    assert refused.returncode != 0
    assert refusal in refused.stderr, refused.stderr
    assert not list((tmp_path / "refused").rglob(f"{installer.package}_swapped_by_test.py"))

    accepted = install((forged_hash,), tmp_path / "accepted")
    assert accepted.returncode == 0, accepted.stderr
    assert len(list((tmp_path / "accepted").rglob(f"{installer.package}_swapped_by_test.py"))) == 1
    assert wheel.is_file()
