"""The benchmark's floor builds what we build: ``benchmarks/bare_cdk8s_plus.py`` and each of our
programs ``make bench`` times, run once here (no timing), write the same objects.

``benchmarks/run.py`` refuses to report when they differ; checking it in every ``make test``
means a change to what the synth builds fails here, at once, instead of in the next bench run
minutes later. Every program runs as a real process on the committed example secrets (the
public demo key decrypts them), as the bench runs them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run import differences, objects_by_chart
from tests.helpers import PROJECT_ROOT, clean_env

EXTRA_APPS = 2  # the bench's per-app points add apps the same way, only more of them
PROGRAMS = {
    "ours: python main.py": ["main.py"],
    "ours: synthesize() +apps": ["-m", "benchmarks.ours_driver", "--apps", str(EXTRA_APPS)],
    "ours: phases": ["-m", "benchmarks.phases"],
    "bare: App.synth()": ["benchmarks/bare_cdk8s_plus.py"],
    "bare: +apps": ["benchmarks/bare_cdk8s_plus.py", "--apps", str(EXTRA_APPS)],
}
# Each of ours against the floor with the same apps. (The bare program's other variants differ
# from it only in how they write or exit; run.py compares those too.)
PAIRS = [
    ("ours: python main.py", "bare: App.synth()"),
    ("ours: phases", "bare: App.synth()"),
    ("ours: synthesize() +apps", "bare: +apps"),
]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every program's output directory, the programs run side by side."""
    work = tmp_path_factory.mktemp("bench")
    env = clean_env()  # no key of ours: the committed example decrypts with the demo key
    running = {}
    for label, args in PROGRAMS.items():
        outdir = work / label.replace(" ", "-").replace(":", "").replace("+", "")
        running[label] = (
            outdir,
            subprocess.Popen(
                [sys.executable, *args, "--outdir", str(outdir)],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
    for label, (_, process) in running.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, f"{label} failed:\n{stderr}"
    return {label: outdir for label, (outdir, _) in running.items()}


@pytest.mark.parametrize(("ours", "floor"), PAIRS, ids=[f"{a} vs {b}" for a, b in PAIRS])
def test_benchmarks_programs_build_the_same_objects_as_the_floor(
    outputs: dict[str, Path], ours: str, floor: str
) -> None:
    left, right = objects_by_chart(outputs[ours]), objects_by_chart(outputs[floor])
    assert list(differences(left, right)) == []
    assert set(left) == {"namespace", "secrets", "gateway"}


def test_benchmarks_floor_is_the_whole_dev_synth(outputs: dict[str, Path]) -> None:
    """The comparison covers every object of the dev synth, and the extra apps add theirs."""
    counts = {
        label: sum(map(len, objects_by_chart(outputs[label]).values()))
        for label in ("ours: python main.py", "ours: synthesize() +apps")
    }
    assert counts == {
        "ours: python main.py": 27,  # 26, and backend's route (an Ingress)
        "ours: synthesize() +apps": 27 + 2 * EXTRA_APPS,
    }
