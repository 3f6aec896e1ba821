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
