"""A pod's container as a local process, composed from synthesized objects as the kubelet does.

Only what the kubelet does for the objects this project emits: envFrom entries in order (a
later one wins on a duplicate key), then ``env`` entries on top; keys that are not valid
environment variable names skipped; ConfigMap volumes written as files under their mount path
(re-rooted below a temporary directory), emptyDir volumes made as empty directories there; the
container's args and env values that name a mount path, re-rooted the same way. No cluster
needed, and nothing is taken from the test process's own environment.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ContainerProcess:
    """What to start: args, environment and the probe paths of the container."""

    args: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)  # secret values: never in a failure message
    liveness_path: str
    readiness_path: str
    container_port: int
    # Every declared container port by name (the first one is container_port).
    named_ports: Mapping[str, int] = field(default_factory=dict)


def compose(
    objects: Sequence[Mapping[str, Any]], deployment_name: str, root: Path
) -> ContainerProcess:
    """The single container of ``deployment_name``, its volumes written below ``root``."""
    by_kind_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    deployment = by_kind_name[("Deployment", deployment_name)]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "secretRef" in source:
            env.update(_secret_data(by_kind_name[("Secret", source["secretRef"]["name"])]))
        else:
            config_map = by_kind_name[("ConfigMap", source["configMapRef"]["name"])]
            env.update(config_map.get("data", {}))
    for entry in container.get("env", []):
        env[entry["name"]] = _env_value(entry, by_kind_name)
    env = {name: value for name, value in env.items() if _ENV_VAR_NAME.fullmatch(name)}

    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    mount_paths = []
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        directory = root / mount["mountPath"].lstrip("/")
        directory.mkdir(parents=True, exist_ok=True)
        mount_paths.append(mount["mountPath"])
        if "emptyDir" in volume:
            continue  # an empty writable directory, as the kubelet makes it
        config_map = by_kind_name[("ConfigMap", volume["configMap"]["name"])]
        for key, text in config_map["data"].items():
            (directory / key).write_text(text, encoding="utf-8")

    args = tuple(_rerooted(arg, mount_paths, root) for arg in container.get("args", []))
    env = {name: _rerooted(value, mount_paths, root) for name, value in env.items()}
    ports = container["ports"]
    return ContainerProcess(
        args=args,
        env=env,
        liveness_path=container["livenessProbe"]["httpGet"]["path"],
        readiness_path=container["readinessProbe"]["httpGet"]["path"],
        container_port=ports[0]["containerPort"],
        named_ports={port.get("name", ""): port["containerPort"] for port in ports},
    )


def _secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode("utf-8") for k, v in secret.get("data", {}).items()}
    data.update(secret.get("stringData", {}))
    return data


def _env_value(entry: Mapping[str, Any], by_kind_name: Mapping[tuple[str, str], Any]) -> str:
    if "value" in entry:
        return str(entry["value"])
    ref = entry["valueFrom"]["secretKeyRef"]
    return _secret_data(by_kind_name[("Secret", ref["name"])])[ref["key"]]


def _rerooted(arg: str, mount_paths: Sequence[str], root: Path) -> str:
    for mount_path in mount_paths:
        if arg == mount_path or arg.startswith(mount_path.rstrip("/") + "/"):
            return str(root / arg.lstrip("/"))
    return arg
