"""The kubelet stand-in used by the end-to-end test composes env and files as the kubelet does."""

from __future__ import annotations

import base64
import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.locked_down import command
from tests.pod_runtime import ConfigMount, TmpfsMount, UnsupportedPodSpec, compose


def test_pod_runtime_env_from_order_env_override_and_invalid_names(tmp_path: Path) -> None:
    objects = [
        {"kind": "Secret", "metadata": {"name": "a"}, "stringData": {"X": "from-a", "ONLY_A": "1"}},
        {
            "kind": "Secret",
            "metadata": {"name": "b"},
            "data": {"X": base64.b64encode(b"from-b").decode(), "bad-name": "eA=="},
        },
        {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"config.yaml": "k: v\n"}},
        {
            "kind": "Deployment",
            "metadata": {"name": "app"},
            "spec": {
                "template": {
                    "spec": {
                        "enableServiceLinks": False,
                        "volumes": [{"name": "c", "configMap": {"name": "cfg"}}],
                        "containers": [
                            {
                                "args": ["--config", "/etc/app/config.yaml", "--port", "80"],
                                "envFrom": [
                                    {"secretRef": {"name": "a"}},
                                    {"secretRef": {"name": "b"}},
                                ],
                                "env": [{"name": "ONLY_A", "value": "overridden"}],
                                "volumeMounts": [
                                    {"name": "c", "mountPath": "/etc/app", "readOnly": True}
                                ],
                                "ports": [{"containerPort": 80}],
                                "livenessProbe": {"httpGet": {"path": "/live"}},
                                "readinessProbe": {"httpGet": {"path": "/ready"}},
                            }
                        ],
                    }
                }
            },
        },
    ]
    container = compose(objects, "app", tmp_path)
    assert container.env == {"X": "from-b", "ONLY_A": "overridden"}
    assert container.args == ("--config", "/etc/app/config.yaml", "--port", "80")
    assert container.config_mounts == (ConfigMount(path="/etc/app", source=tmp_path / "c"),)
    assert (tmp_path / "c/config.yaml").read_text() == "k: v\n"
    assert (container.liveness_path, container.readiness_path) == ("/live", "/ready")


def locked_down_objects() -> list[dict[str, Any]]:
    """A Deployment shaped like the LiteLLM one: non-root, read-only root, two emptyDirs."""
    return [
        {
            "kind": "Deployment",
            "metadata": {"name": "app"},
            "spec": {
                "template": {
                    "spec": {
                        "enableServiceLinks": False,
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                        "volumes": [
                            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                            {"name": "cache", "emptyDir": {"sizeLimit": "2Gi"}},
                        ],
                        "containers": [
                            {
                                "securityContext": {
                                    "runAsUser": 65534,
                                    "runAsGroup": 65534,
                                    "readOnlyRootFilesystem": True,
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]},
                                    "seccompProfile": {"type": "RuntimeDefault"},
                                },
                                "volumeMounts": [
                                    {"name": "tmp", "mountPath": "/tmp"},
                                    {"name": "cache", "mountPath": "/var/cache/app"},
                                ],
                                "ports": [{"containerPort": 80}],
                                "livenessProbe": {"httpGet": {"path": "/live"}},
                                "readinessProbe": {"httpGet": {"path": "/ready"}},
                            }
                        ],
                    }
                }
            },
        }
    ]


def test_pod_runtime_emptydirs_and_the_containers_security_context_win(tmp_path: Path) -> None:
    container = compose(locked_down_objects(), "app", tmp_path)
    assert container.writable_mounts == (
        TmpfsMount(name="tmp", path="/tmp", size_bytes=256 * 1024**2),
        TmpfsMount(name="cache", path="/var/cache/app", size_bytes=2 * 1024**3),
    )
    assert (container.user, container.group) == (65534, 65534)
    assert container.run_as_non_root  # from the pod, the container leaving it unset
    assert container.read_only_root_filesystem
    assert container.no_new_privileges
    assert container.drops_all_capabilities


@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        (lambda pod, c: c.update(workingDir="/srv"), "container: ['workingDir'] not understood"),
        (lambda pod, c: pod.update(hostPID=True), "pod: ['hostPID'] not understood"),
        # The kubelet would add variables for every Service, which no local process gets.
        (lambda pod, c: pod.pop("enableServiceLinks"), "pod: enableServiceLinks is not false"),
        (
            lambda pod, c: pod.update(enableServiceLinks=True),
            "pod: enableServiceLinks is not false",
        ),
        (
            lambda pod, c: c["securityContext"].update(procMount="Unmasked"),
            "container securityContext: ['procMount'] not understood",
        ),
        (
            lambda pod, c: (
                pod["volumes"].append({"name": "h", "hostPath": {"path": "/"}})
                or c["volumeMounts"].append({"name": "h", "mountPath": "/host"})
            ),
            "volume 'h': only ConfigMap and sized emptyDir",
        ),
        (
            lambda pod, c: pod["volumes"][0]["emptyDir"].pop("sizeLimit"),
            "volume 'tmp': only ConfigMap and sized emptyDir",
        ),
        (
            lambda pod, c: pod["volumes"][0]["emptyDir"].update(sizeLimit="1.5Gi"),
            "size '1.5Gi': only whole Ki, Mi or Gi",
        ),
        (
            lambda pod, c: c["securityContext"].update(seccompProfile={"type": "Unconfined"}),
            "seccompProfile {'type': 'Unconfined'}",
        ),
        (
            lambda pod, c: c["securityContext"].update(capabilities={"add": ["NET_ADMIN"]}),
            "capabilities {'add': ['NET_ADMIN']}",
        ),
        (lambda pod, c: c["securityContext"].update(privileged=True), "a privileged container"),
    ],
)
def test_pod_runtime_refuses_what_it_cannot_reproduce(
    tmp_path: Path, edit: Any, refused: str
) -> None:
    objects = copy.deepcopy(locked_down_objects())
    pod = objects[0]["spec"]["template"]["spec"]
    edit(pod, pod["containers"][0])
    with pytest.raises(UnsupportedPodSpec) as error:
        compose(objects, "app", tmp_path)
    assert refused in str(error.value)


@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        (
            lambda pod, c: c["securityContext"].update(readOnlyRootFilesystem=False),
            "only a container with readOnlyRootFilesystem runs locked down",
        ),
        (
            lambda pod, c: c["securityContext"].update(runAsUser=0),
            "only a container with runAsNonRoot and a numeric non-root user",
        ),
        (
            lambda pod, c: pod["securityContext"].pop("runAsNonRoot"),
            "only a container with runAsNonRoot and a numeric non-root user",
        ),
    ],
)
def test_locked_down_refuses_a_container_that_is_not(
    tmp_path: Path, edit: Any, refused: str
) -> None:
    """The end-to-end test cannot pass against a Deployment that stops being locked down."""
    objects = copy.deepcopy(locked_down_objects())
    pod = objects[0]["spec"]["template"]["spec"]
    edit(pod, pod["containers"][0])
    container = compose(objects, "app", tmp_path)
    with pytest.raises(UnsupportedPodSpec) as error:
        command(container, ["true"], tmp_path / "scratch")
    assert str(error.value) == refused


def test_locked_down_command_mounts_and_drops_as_composed(tmp_path: Path) -> None:
    container = compose(locked_down_objects(), "app", tmp_path)
    scratch = tmp_path / "scratch"
    argv = command(container, ["/usr/bin/env"], scratch)
    assert argv[:4] == ["/usr/bin/unshare", "--mount", "--propagation", "private"]
    assert argv[-2:] == ["sh", "/usr/bin/env"]
    script = argv[argv.index("-c") + 1]
    root = scratch / "root"
    assert f"lowerdir=/,upperdir={scratch}/upper,workdir={scratch}/work" in script
    assert "mount --rbind /proc " + f"{root}/proc" in script
    tmpfs = f"mount -t tmpfs -o size={256 * 1024**2},mode=0777 tmp {root}/tmp"
    assert tmpfs in script
    # Everything read-only (the new root, and the host's root as the namespace sees it) before
    # the emptyDirs are mounted writable.
    for point in (f"{root}", "/"):
        remount = f"mount -o remount,bind,ro {point}\n"
        assert remount in script + "\n"
        assert script.index(remount) < script.index(tmpfs)
    assert script.splitlines()[-1] == (
        f"exec /usr/sbin/chroot {root} /usr/bin/setpriv --reuid=65534 --regid=65534"
        ' --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"'
    )


def test_locked_down_makes_a_missing_top_level_mount_point_in_the_new_root_only(
    tmp_path: Path,
) -> None:
    """A path the host lacks, even right below /, is made in the overlay's upper layer on the
    scratch tmpfs; a symlinked path is resolved within the root first."""
    objects = copy.deepcopy(locked_down_objects())
    (container_spec,) = objects[0]["spec"]["template"]["spec"]["containers"]
    container_spec["volumeMounts"][1]["mountPath"] = "/data-of-a-test-image"
    container = compose(objects, "app", tmp_path)
    scratch = tmp_path / "scratch"
    script = command(container, ["true"], scratch)[6]
    assert f"mkdir -p {scratch}/root/data-of-a-test-image" in script
    assert "mkdir -p /data" not in script
    assert not Path("/data-of-a-test-image").exists()


def test_pod_runtime_names_every_container_port(tmp_path: Path) -> None:
    objects = copy.deepcopy(locked_down_objects())
    (container_spec,) = objects[0]["spec"]["template"]["spec"]["containers"]
    container_spec["ports"] = [
        {"containerPort": 4000, "name": "http"},
        {"containerPort": 9090, "name": "metrics"},
    ]
    container = compose(objects, "app", tmp_path)
    assert container.container_port == 4000
    assert container.named_ports == {"http": 4000, "metrics": 9090}


def test_locked_down_runs_with_a_top_level_and_a_symlinked_emptydir(tmp_path: Path) -> None:
    """Really run: the pod's user writes into an emptyDir at a new top-level path and into one
    reached through the /var/run -> /run symlink, and nowhere else; the host sees neither."""
    objects = copy.deepcopy(locked_down_objects())
    (container_spec,) = objects[0]["spec"]["template"]["spec"]["containers"]
    container_spec["volumeMounts"] = [
        {"name": "tmp", "mountPath": "/data-of-a-test-image"},
        {"name": "cache", "mountPath": "/var/run/a-test-pod"},
    ]
    container = compose(objects, "app", tmp_path)
    (tmp_path / "scratch").mkdir()
    probe = (
        "id -u; touch /data-of-a-test-image/f /var/run/a-test-pod/f && echo written; "
        "for d in / /var/tmp /dev/shm; do touch $d/.locked-down-probe 2>&1 || true; done"
    )
    argv = command(container, ["/bin/sh", "-c", probe], tmp_path / "scratch")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["65534", "written"]
    # World-writable on the host (/var/tmp, /dev/shm), read-only here.
    assert [line.endswith("Read-only file system") for line in lines[2:]] == [True] * 3
    assert not Path("/data-of-a-test-image").exists()
    assert not Path("/run/a-test-pod").exists()
    assert not Path("/var/tmp/.locked-down-probe").exists()
