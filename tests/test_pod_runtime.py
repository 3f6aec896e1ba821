"""The kubelet stand-in used by the end-to-end test composes env and files as the kubelet does."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.pod_runtime import compose


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
                        "volumes": [{"name": "c", "configMap": {"name": "cfg"}}],
                        "containers": [
                            {
                                "args": ["--config", "/etc/app/config.yaml", "--port", "80"],
                                "envFrom": [
                                    {"secretRef": {"name": "a"}},
                                    {"secretRef": {"name": "b"}},
                                ],
                                "env": [{"name": "ONLY_A", "value": "overridden"}],
                                "volumeMounts": [{"name": "c", "mountPath": "/etc/app"}],
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
    assert container.args == ("--config", f"{tmp_path}/etc/app/config.yaml", "--port", "80")
    assert (tmp_path / "etc/app/config.yaml").read_text() == "k: v\n"
    assert (container.liveness_path, container.readiness_path) == ("/live", "/ready")


def test_pod_runtime_empty_dirs_env_paths_and_named_ports(tmp_path: Path) -> None:
    objects = [
        {
            "kind": "Deployment",
            "metadata": {"name": "app"},
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}}],
                        "containers": [
                            {
                                "args": ["--dir", "/var/run/app/samples"],
                                "env": [
                                    {"name": "SAMPLES", "value": "/var/run/app"},
                                    {"name": "ROOT_PATH", "value": "/var/run/application"},
                                ],
                                "volumeMounts": [{"name": "scratch", "mountPath": "/var/run/app"}],
                                "ports": [
                                    {"containerPort": 4000, "name": "http"},
                                    {"containerPort": 9090, "name": "metrics"},
                                ],
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
    scratch = tmp_path / "var/run/app"
    assert scratch.is_dir()
    assert list(scratch.iterdir()) == []
    assert container.args == ("--dir", f"{scratch}/samples")
    # Only a mount path or a path below it is re-rooted, not a longer name that shares a prefix.
    assert container.env == {"SAMPLES": str(scratch), "ROOT_PATH": "/var/run/application"}
    assert container.container_port == 4000
    assert container.named_ports == {"http": 4000, "metrics": 9090}
