"""A pod's container as a local process, composed from synthesized objects as the kubelet does.

Only what the kubelet does for the objects this project emits: envFrom entries in order (a
later one wins on a duplicate key), then ``env`` entries on top; keys that are not valid
environment variable names skipped; ``$(VAR)`` references in command and args expanded from
that environment; ConfigMap volumes rendered as files into a directory the
runner mounts read-only at the mount path; emptyDir volumes as size-limited tmpfs mounts; the
user, group and filesystem rules of the security contexts (the container's over the pod's).
No cluster needed, and nothing is taken from the test process's own environment.

A field this stand-in does not know is refused, not skipped: a Deployment that grows a new
volume type or security setting must be taught here before the end-to-end test can pass.
Fields that only matter to the scheduler or the kubelet's bookkeeping are listed as known.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi)?$")
_BINARY_SUFFIX = {None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}

# What a local process has no use for: scheduling, image pulling, restarts, resource accounting.
_POD_FIELDS_WITHOUT_LOCAL_EFFECT = frozenset(
    {
        "affinity",
        "automountServiceAccountToken",
        "dnsPolicy",
        "hostNetwork",
        "nodeSelector",
        "priorityClassName",
        "restartPolicy",
        "serviceAccountName",
        "setHostnameAsFQDN",
        "terminationGracePeriodSeconds",
        "tolerations",
        "topologySpreadConstraints",
    }
)
# ``lifecycle``: the preStop hook runs only when the kubelet stops the pod, before SIGTERM; the
# test stops its process with SIGTERM directly.
_CONTAINER_FIELDS_WITHOUT_LOCAL_EFFECT = frozenset(
    {"image", "imagePullPolicy", "lifecycle", "name", "resources", "startupProbe"}
)
_POD_SECURITY_FIELDS = frozenset(
    {"fsGroup", "fsGroupChangePolicy", "runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile"}
)
_CONTAINER_SECURITY_FIELDS = frozenset(
    {
        "allowPrivilegeEscalation",
        "capabilities",
        "privileged",
        "readOnlyRootFilesystem",
        "runAsNonRoot",
        "runAsUser",
        "runAsGroup",
        "seccompProfile",
    }
)


class UnsupportedPodSpec(Exception):
    """The objects ask for something this stand-in cannot reproduce faithfully."""


@dataclass(frozen=True)
class TmpfsMount:
    """An emptyDir: a fresh, empty, writable directory at ``path`` of at most ``size_bytes``."""

    name: str
    path: str
    size_bytes: int


@dataclass(frozen=True)
class ConfigMount:
    """A ConfigMap volume: the files rendered into ``source``, seen read-only at ``path``."""

    path: str
    source: Path


@dataclass(frozen=True)
class ProbeTarget:
    """Where a probe knocks: an HTTP GET of ``path`` on ``port``, or (``path`` None) a TCP
    connect to ``port``."""

    port: int
    path: str | None


@dataclass(frozen=True)
class ContainerProcess:
    """What to start, as whom, and what it may write.

    ``command``: the container's command (empty: the image's entrypoint); ``command`` and
    ``args`` have their ``$(VAR)`` references expanded, so they may hold secret values too.
    """

    command: tuple[str, ...] = field(repr=False)
    args: tuple[str, ...] = field(repr=False)
    env: Mapping[str, str] = field(repr=False)  # secret values: never in a failure message
    liveness: ProbeTarget
    readiness: ProbeTarget
    container_port: int
    user: int | None
    group: int | None
    supplementary_groups: tuple[int, ...]  # the pod's fsGroup, as the kubelet adds it
    run_as_non_root: bool
    read_only_root_filesystem: bool
    no_new_privileges: bool
    drops_all_capabilities: bool
    config_mounts: tuple[ConfigMount, ...]
    writable_mounts: tuple[TmpfsMount, ...]
    # Every declared container port by name (the first one is container_port).
    named_ports: Mapping[str, int] = field(default_factory=dict)

    @property
    def liveness_path(self) -> str:
        return _http_path(self.liveness)

    @property
    def readiness_path(self) -> str:
        return _http_path(self.readiness)


def _http_path(probe: ProbeTarget) -> str:
    if probe.path is None:
        raise UnsupportedPodSpec(f"a TCP probe on port {probe.port} has no HTTP path")
    return probe.path


def compose(
    objects: Sequence[Mapping[str, Any]],
    deployment_name: str,
    root: Path,
    *,
    init_containers_run_by_caller: bool = False,
) -> ContainerProcess:
    """The single container of ``deployment_name``; ConfigMap files are rendered below ``root``.

    A pod with init containers is refused unless ``init_containers_run_by_caller``: the caller
    then guarantees what they wait for (for LiteLLM's schema gate: the migrations applied)."""
    by_kind_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    deployment = by_kind_name[("Deployment", deployment_name)]
    pod = deployment["spec"]["template"]["spec"]
    # With service links on, the kubelet would add a variable set per Service of the namespace,
    # which the process here would not get: only a pod without them runs as it would there.
    if pod.get("enableServiceLinks", True) is not False:
        raise UnsupportedPodSpec("pod: enableServiceLinks is not false")
    known = {"containers", "volumes", "securityContext", "enableServiceLinks"}
    if init_containers_run_by_caller:
        known.add("initContainers")
    _refuse_unknown(pod, known, _POD_FIELDS_WITHOUT_LOCAL_EFFECT, "pod")
    (container,) = pod["containers"]
    _refuse_unknown(
        container,
        {
            "args",
            "command",
            "env",
            "envFrom",
            "livenessProbe",
            "ports",
            "readinessProbe",
            "securityContext",
            "volumeMounts",
        },
        _CONTAINER_FIELDS_WITHOUT_LOCAL_EFFECT,
        "container",
    )

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
    command = tuple(kubelet_expand(part, env) for part in container.get("command", []))
    args = tuple(kubelet_expand(part, env) for part in container.get("args", []))

    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    config_mounts: list[ConfigMount] = []
    writable_mounts: list[TmpfsMount] = []
    for mount in container.get("volumeMounts", []):
        _refuse_unknown(mount, {"name", "mountPath", "readOnly"}, frozenset(), "volumeMount")
        volume = volumes[mount["name"]]
        path = mount["mountPath"]
        if set(volume) == {"name", "configMap"}:
            if mount.get("readOnly") is not True:
                raise UnsupportedPodSpec(f"ConfigMap mount {path} is not readOnly")
            config_map = by_kind_name[("ConfigMap", volume["configMap"]["name"])]
            directory = root / mount["name"]
            directory.mkdir(parents=True)
            for key, text in config_map["data"].items():
                (directory / key).write_text(text, encoding="utf-8")
            config_mounts.append(ConfigMount(path=path, source=directory))
        elif set(volume) == {"name", "emptyDir"} and set(volume["emptyDir"]) == {"sizeLimit"}:
            if mount.get("readOnly"):
                raise UnsupportedPodSpec(f"emptyDir mount {path} is readOnly")
            size = _bytes(volume["emptyDir"]["sizeLimit"])
            writable_mounts.append(TmpfsMount(name=mount["name"], path=path, size_bytes=size))
        else:
            raise UnsupportedPodSpec(f"volume {mount['name']!r}: only ConfigMap and sized emptyDir")

    pod_security = pod.get("securityContext", {})
    container_security = container.get("securityContext", {})
    _refuse_unknown(pod_security, set(), _POD_SECURITY_FIELDS, "pod securityContext")
    _refuse_unknown(
        container_security, set(), _CONTAINER_SECURITY_FIELDS, "container securityContext"
    )
    for security in (pod_security, container_security):
        profile = security.get("seccompProfile", {"type": "RuntimeDefault"})
        if profile != {"type": "RuntimeDefault"}:
            raise UnsupportedPodSpec(f"seccompProfile {profile}")
    if container_security.get("privileged"):
        raise UnsupportedPodSpec("a privileged container")
    capabilities = container_security.get("capabilities", {})
    if set(capabilities) - {"drop"}:
        raise UnsupportedPodSpec(f"capabilities {capabilities}")

    def effective(key: str) -> Any:
        return container_security.get(key, pod_security.get(key))

    ports = container["ports"]
    return ContainerProcess(
        command=command,
        args=args,
        env=env,
        liveness=_probe_target(container["livenessProbe"], ports[0]["containerPort"]),
        readiness=_probe_target(container["readinessProbe"], ports[0]["containerPort"]),
        container_port=ports[0]["containerPort"],
        named_ports={port.get("name", ""): port["containerPort"] for port in ports},
        user=effective("runAsUser"),
        group=effective("runAsGroup"),
        supplementary_groups=(pod_security["fsGroup"],) if "fsGroup" in pod_security else (),
        run_as_non_root=effective("runAsNonRoot") is True,
        read_only_root_filesystem=container_security.get("readOnlyRootFilesystem") is True,
        no_new_privileges=container_security.get("allowPrivilegeEscalation") is False,
        drops_all_capabilities=capabilities.get("drop") == ["ALL"],
        config_mounts=tuple(config_mounts),
        writable_mounts=tuple(writable_mounts),
    )


def kubelet_expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion of a container's command and args: a defined variable is
    replaced, ``$$`` is an escaped ``$``, anything else stays as written."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", substitute, text)


def _probe_target(probe: Mapping[str, Any], default_port: int) -> ProbeTarget:
    """An httpGet or tcpSocket probe's target; a named port is not resolved here."""
    if "httpGet" in probe:
        http = probe["httpGet"]
        return ProbeTarget(port=int(http.get("port", default_port)), path=http["path"])
    if "tcpSocket" in probe:
        return ProbeTarget(port=int(probe["tcpSocket"]["port"]), path=None)
    raise UnsupportedPodSpec(f"probe {sorted(probe)}: only httpGet and tcpSocket")


def _refuse_unknown(
    obj: Mapping[str, Any], used: set[str], known_without_effect: frozenset[str], where: str
) -> None:
    unknown = set(obj) - used - known_without_effect
    if unknown:
        raise UnsupportedPodSpec(
            f"{where}: {sorted(unknown)} not understood by tests/pod_runtime.py"
        )


def _bytes(quantity: str) -> int:
    match = _QUANTITY.fullmatch(str(quantity))
    if match is None:
        raise UnsupportedPodSpec(f"size {quantity!r}: only whole Ki, Mi or Gi")
    return int(match.group(1)) * _BINARY_SUFFIX[match.group(2)]


def _secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode("utf-8") for k, v in secret.get("data", {}).items()}
    data.update(secret.get("stringData", {}))
    return data


def _env_value(entry: Mapping[str, Any], by_kind_name: Mapping[tuple[str, str], Any]) -> str:
    if "value" in entry:
        return str(entry["value"])
    ref = entry["valueFrom"]["secretKeyRef"]
    return _secret_data(by_kind_name[("Secret", ref["name"])])[ref["key"]]
