"""The report after a successful write, when it cannot be printed: one line, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import PROJECT_ROOT, AgeKey, clean_env, tree_bytes
from tests.outdir.scenario import assert_refused


def synth(outdir: Path, secrets: Path, env: dict[str, str], **popen: Any) -> tuple[int, str]:
    main = str(PROJECT_ROOT / "main.py")
    process = subprocess.Popen(
        [sys.executable, main, "--secrets", str(secrets), "--outdir", str(outdir)],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )
    if process.stdout is not None:
        process.stdout.close()  # `| head -0`: the reader is gone before the report
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


def test_report_stream_closed_pipe_or_closed_stdout_is_one_line(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file), HOME=str(tmp_path))
    cases: dict[str, dict[str, Any]] = {
        "Broken pipe": {"stdout": subprocess.PIPE},
        "the stream is closed": {"preexec_fn": lambda: os.close(1)},  # `>&-`
    }
    for number, (reason, popen) in enumerate(cases.items()):
        outdir = tmp_path / f"dist{number}"
        code, stderr = synth(outdir, fixture_secrets, env, **popen)
        result = subprocess.CompletedProcess([], code, "", stderr)
        assert_refused(
            result,
            f"the manifests were written to {outdir}, but the report cannot be printed to "
            f"standard output ({reason}",
        )
        assert sorted(tree_bytes(outdir)) == [
            ".gitignore",  # makes the directory invisible to git (lib/outdir/writer.py)
            ".seance-synth",
            "00-namespace.k8s.yaml",
            "10-secrets.k8s.yaml",
            "20-gateway.k8s.yaml",
        ]
