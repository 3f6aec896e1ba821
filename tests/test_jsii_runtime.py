"""Node.js, which cdk8s runs on through jsii: a missing temp directory, a broken or dying or
silent `node`, each one line naming it, through the real CLI and a real (or shimmed) Node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT, AgeKey, clean_env, run_cli
from tests.outdir.scenario import assert_refused, previous_output, tree

REAL_NODE = shutil.which("node")


def node_shim(directory: Path, body: str) -> dict[str, str]:
    """PATH with a `node` first that runs ``body`` (sh): a broken version-manager shim."""
    directory.mkdir()
    (directory / "node").write_text(f"#!/bin/sh\n{body}\n")
    (directory / "node").chmod(0o755)
    return {"PATH": f"{directory}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize(
    "variables",
    [{"TMP": "/nonexistent"}, {"TEMP": "/nonexistent"}, {"TMPDIR": "", "TMP": "/nonexistent"}],
    ids=["TMP", "TEMP", "empty TMPDIR, then TMP"],
)
def test_jsii_runtime_node_temp_directory_is_probed_as_node_picks_it(
    variables: dict[str, str], fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    env.pop("TMPDIR", None)
    env.update(variables)
    named = next(name for name in ("TMPDIR", "TMP", "TEMP") if variables.get(name))
    outdir = previous_output(tmp_path / "dist", fixture_secrets)
    before = tree(outdir)
    result = run_cli("--secrets", str(fixture_secrets), "--outdir", str(outdir), env=env)
    assert_refused(result, f"{named}=/nonexistent is not a usable directory", f"point {named} at")
    assert tree(outdir) == before


@pytest.mark.parametrize(
    ("body", "how"),
    [
        ("exit 127", "exited with status 127"),
        ("kill -9 $$", "was killed by SIGKILL"),
        # Real Node that gets jsii's first request only, then end of input: it answers that one
        # and exits, mid-synth.
        (f'head -n 1 | exec "{REAL_NODE}" "$@"', "exited with status 0"),
    ],
    ids=["exits at once", "killed at once", "exits mid-synth"],
)
def test_jsii_runtime_node_that_exits_is_one_line_naming_it(
    body: str, how: str, fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    assert REAL_NODE, "node is installed by `make test`"
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), **node_shim(tmp_path / "bin", body))
    outdir = previous_output(tmp_path / "dist", fixture_secrets)
    before = tree(outdir)
    result = run_cli("--secrets", str(fixture_secrets), "--outdir", str(outdir), env=env)
    assert_refused(result, f"Node.js (`node`), which cdk8s runs on, {how}", "JSII_NODE")
    assert tree(outdir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "dist", "secrets.yaml"]


def test_jsii_runtime_node_that_never_answers_is_given_up_on(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    """jsii waits for Node for ever; the synth gives up after NODE_TIMEOUT_SECONDS (60 s in
    main.py, 2 s here: the real CLI with only that constant changed)."""
    pid_file = tmp_path / "node.pid"
    env = clean_env(
        SOPS_AGE_KEY_FILE=str(age_key.key_file),
        **node_shim(tmp_path / "bin", f'echo $$ > "{pid_file}"; exec sleep 1000'),
    )
    outdir = previous_output(tmp_path / "dist", fixture_secrets)
    before = tree(outdir)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, lib.jsii_runtime, lib.entry\n"
            "lib.jsii_runtime.NODE_TIMEOUT_SECONDS = 2\n"
            "sys.exit(lib.entry.run())",
            "--secrets",
            str(fixture_secrets),
            "--outdir",
            str(outdir),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a hang's bound, far above any load: the message pins the 2 s
        check=False,
    )
    assert_refused(result, "Node.js (`node`), which cdk8s runs on, did not answer within 2 s")
    assert tree(outdir) == before
    with pytest.raises(ProcessLookupError):  # the silent node was killed, not left behind
        os.kill(int(pid_file.read_text()), 0)
