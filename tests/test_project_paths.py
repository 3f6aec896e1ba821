"""Run from anywhere: the project's dist/ and secrets, and a report that says where it wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import copy_project


def test_project_paths_default_output_is_the_projects_dist_wherever_it_runs(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, str(project / "main.py")],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert list(elsewhere.iterdir()) == []
    assert (project / "dist" / "20-gateway.k8s.yaml").is_file()
    lines = result.stdout.splitlines()
    # Both paths the project supplies are named absolutely: neither is below the caller.
    assert lines[1].startswith(f"secrets: {project / 'secrets' / 'secrets.yaml'} (")
    assert lines[-1].startswith(f"wrote {project / 'dist'}/: 00-namespace.k8s.yaml, ")


def test_project_paths_below_the_current_directory_stay_relative(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    result = subprocess.run(
        [sys.executable, "main.py", "--outdir", "./out/../manifests"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("secrets: secrets/secrets.yaml (")
    assert lines[-1].startswith("wrote manifests/: 00-namespace.k8s.yaml, ")
