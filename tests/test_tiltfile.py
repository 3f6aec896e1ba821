"""The Tiltfile, evaluated with recording stand-ins for Tilt's builtins.

Tilt cannot run here (no cluster); this pins what it is told to do: the synth command, the
watched sources, the files it loads and the LiteLLM port-forward.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from lib.environments import ENVIRONMENTS
from tests.helpers import PROJECT_ROOT


def evaluate_tiltfile(dist: Path) -> dict[str, list[Any]]:
    calls: dict[str, list[Any]] = {}

    def record(name: str, result: Any = None) -> Any:
        def builtin(*args: Any, **kwargs: Any) -> Any:
            calls.setdefault(name, []).append((args, kwargs))
            return result

        return builtin

    namespace = {
        name: record(name)
        for name in ("watch_file", "watch_settings", "local", "k8s_yaml", "k8s_resource")
    }
    namespace["listdir"] = lambda path: [str(dist / p.name) for p in sorted(dist.iterdir())]
    source = (PROJECT_ROOT / "Tiltfile").read_text()
    exec(compile(source, "Tiltfile", "exec"), namespace)  # noqa: S102 - our own Tiltfile
    return calls


def test_tiltfile_synthesizes_dev_with_the_documented_command(tmp_path: Path) -> None:
    (tmp_path / "00-namespace.k8s.yaml").write_text("")
    (tmp_path / "20-gateway.k8s.yaml").write_text("")
    (tmp_path / "notes.txt").write_text("")
    calls = evaluate_tiltfile(tmp_path)
    (((command,), _),) = calls["local"]
    assert shlex.split(command)[-2:] == ["synth", "ENV=dev"]
    assert {args[0] for args, _ in calls["watch_file"]} >= {"main.py", "charts", "lib", "secrets"}
    (((loaded,), _),) = calls["k8s_yaml"]
    assert loaded == [
        str(tmp_path / "00-namespace.k8s.yaml"),
        str(tmp_path / "20-gateway.k8s.yaml"),
    ]
    ((_, settings),) = calls["watch_settings"]
    assert "dist" in settings["ignore"]


def test_tiltfile_port_forwards_litellm_and_names_real_resources() -> None:
    calls = evaluate_tiltfile(PROJECT_ROOT / "secrets")  # any directory will do
    resources = {args[0]: kwargs for args, kwargs in calls["k8s_resource"]}
    assert resources["litellm"]["port_forwards"] == ["4000:4000"]
    declared = {"litellm", *(app.name for app in ENVIRONMENTS["dev"].apps)}
    assert set(resources) <= declared
