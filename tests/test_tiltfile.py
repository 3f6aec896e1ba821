"""The Tiltfile, evaluated by the Go implementation of Starlark that Tilt embeds (PyPI
starlark-go), with Tilt's builtins recorded.

Tilt cannot run here (no cluster); this pins what it is told to do: the synth command, the
watched sources, the files it loads and the LiteLLM port-forward. The interpreter is Tilt's own
dialect, so Python-only syntax in the Tiltfile fails here as it would in `tilt up`; the
recorders take the parameters of Tilt's builtins by their names in Tilt's source
(internal/tiltfile), so a misspelt keyword fails too.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlark_go import Starlark, configure_starlark
from starlark_go.errors import EvalError, StarlarkError

from lib.environments import ENVIRONMENTS
from tests.helpers import PROJECT_ROOT

# Tilt's dialect (internal/tiltfile/starkit/environment.go: Set, GlobalReassign, Recursion,
# TopLevelControl, While); in this binding the last two come with the flags below.
configure_starlark(allow_set=True, allow_global_reassign=True, allow_recursion=True)


@dataclass
class TiltBuiltins:
    """Records each call of the Tilt builtins the Tiltfile uses. Bound methods, not closures:
    starlark-go 1.0.1 crashes calling a Python closure or lambda, not a bound method."""

    tiltfile_dir: Path
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def _record(self, name: str, **arguments: Any) -> None:
        self.calls.setdefault(name, []).append(arguments)

    def watch_file(self, paths: str) -> None:
        self._record("watch_file", paths=paths)

    def watch_settings(self, ignore: Any = None) -> None:
        self._record("watch_settings", ignore=ignore)

    def local(
        self,
        command: Any,
        quiet: bool = False,
        command_bat: Any = "",
        echo_off: bool = False,
        env: Any = None,
        dir: Any = None,
        stdin: Any = None,
    ) -> str:
        self._record("local", command=command, quiet=quiet, env=env, dir=dir)
        return ""

    def listdir(self, dir: str, recursive: bool = False) -> list[str]:
        """As Tilt: a path relative to the Tiltfile's directory; files only, in name order."""
        self._record("listdir", dir=dir, recursive=recursive)
        directory = self.tiltfile_dir / dir
        return [str(p) for p in sorted(directory.iterdir()) if not p.is_dir()]

    def k8s_yaml(self, yaml: Any, allow_duplicates: bool = False) -> None:
        self._record("k8s_yaml", yaml=yaml, allow_duplicates=allow_duplicates)

    def k8s_resource(
        self,
        workload: str = "",
        new_name: str = "",
        port_forwards: Any = None,
        extra_pod_selectors: Any = None,
        trigger_mode: Any = None,
        resource_deps: Any = None,
        objects: Any = None,
        auto_init: bool = True,
        pod_readiness: str = "",
        links: Any = None,
        labels: Any = None,
        discovery_strategy: str = "",
    ) -> None:
        self._record("k8s_resource", workload=workload, port_forwards=port_forwards, labels=labels)


def evaluate_tiltfile(tiltfile_dir: Path, source: str | None = None) -> TiltBuiltins:
    """Run the project's Tiltfile (or ``source``) as if it lived in ``tiltfile_dir``."""
    builtins = TiltBuiltins(tiltfile_dir)
    names = ("watch_file", "watch_settings", "local", "listdir", "k8s_yaml", "k8s_resource")
    interpreter = Starlark(globals={name: getattr(builtins, name) for name in names})
    text = source if source is not None else (PROJECT_ROOT / "Tiltfile").read_text()
    interpreter.exec(text, filename="Tiltfile")
    return builtins


def test_tiltfile_synthesizes_dev_with_the_documented_command(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in ("20-gateway.k8s.yaml", "00-namespace.k8s.yaml", "notes.txt"):
        (dist / name).write_text("")
    (dist / "nested.k8s.yaml").mkdir()  # a directory, even with a manifest's name, is not one
    calls = evaluate_tiltfile(tmp_path).calls
    (local,) = calls["local"]
    assert shlex.split(local["command"])[-2:] == ["synth", "ENV=dev"]
    assert local["dir"] is None  # Tilt runs it in the Tiltfile's directory: the project root
    watched = {call["paths"] for call in calls["watch_file"]}
    assert watched >= {"main.py", "charts", "lib", "secrets", "pyproject.toml", "images.lock.yaml"}
    (loaded,) = calls["k8s_yaml"]
    assert loaded["yaml"] == [
        str(dist / "00-namespace.k8s.yaml"),
        str(dist / "20-gateway.k8s.yaml"),
    ]
    (settings,) = calls["watch_settings"]
    assert "dist" in settings["ignore"]


def test_tiltfile_watches_only_paths_that_exist(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    calls = evaluate_tiltfile(tmp_path).calls
    for call in calls["watch_file"]:
        assert (PROJECT_ROOT / call["paths"]).exists(), call["paths"]


def test_tiltfile_port_forwards_litellm_and_names_real_resources(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    calls = evaluate_tiltfile(tmp_path).calls
    resources = {call["workload"]: call for call in calls["k8s_resource"]}
    assert resources["litellm"]["port_forwards"] == ["4000:4000"]
    declared = {"litellm", *(app.name for app in ENVIRONMENTS["dev"].apps)}
    assert set(resources) <= declared


def test_tiltfile_interpreter_is_starlark_not_python(tmp_path: Path) -> None:
    """The recorders and the dialect are strict, so the tests above can fail."""
    with pytest.raises(StarlarkError):
        evaluate_tiltfile(tmp_path, "import os\n")
    with pytest.raises(StarlarkError):
        evaluate_tiltfile(tmp_path, "try:\n    pass\nexcept:\n    pass\n")
    with pytest.raises(EvalError, match="unexpected keyword argument 'port_forward'"):
        evaluate_tiltfile(tmp_path, "k8s_resource('litellm', port_forward=['4000:4000'])\n")
