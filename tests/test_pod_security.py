"""Pod Security "restricted" (Kubernetes v1.28), field by field, for every pod template of every
environment, plus this project's read-only root filesystem. A regression fails the test named
after the field it breaks. The namespace must ask the cluster to enforce the same level.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from lib.environments import ENVIRONMENTS, SecretMode
from lib.synthesis import SynthReport, SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, encrypt_document, new_age_key

Pod = Mapping[str, Any]
Container = Mapping[str, Any]
# restricted allows only these volume types (v1.28).
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "CronJob")


def pod_spec(obj: Mapping[str, Any]) -> Pod:
    """The pod template's spec; a CronJob's is one level deeper, in its Job template."""
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]["spec"]  # type: ignore[no-any-return]


def _containers(pod: Pod) -> list[Container]:
    return [*pod.get("initContainers", []), *pod["containers"], *pod.get("ephemeralContainers", [])]


def _effective(pod: Pod, container: Container, field: str) -> Any:
    """A container's setting, falling back to the pod's, as the kubelet resolves it."""
    own = container.get("securityContext", {})
    return own[field] if field in own else pod.get("securityContext", {}).get(field)


# field -> does this container of this pod meet it?
FIELD_CHECKS: dict[str, Callable[[Pod, Container], bool]] = {
    "runAsNonRoot": lambda pod, c: _effective(pod, c, "runAsNonRoot") is True,
    "runAsUser": lambda pod, c: (
        isinstance(_effective(pod, c, "runAsUser"), int) and _effective(pod, c, "runAsUser") > 0
    ),
    "runAsGroup": lambda pod, c: (
        isinstance(_effective(pod, c, "runAsGroup"), int) and _effective(pod, c, "runAsGroup") > 0
    ),
    "seccompProfile": lambda pod, c: (
        (_effective(pod, c, "seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost")
    ),
    "allowPrivilegeEscalation": lambda pod, c: (
        c.get("securityContext", {}).get("allowPrivilegeEscalation") is False
    ),
    "capabilities.drop": lambda pod, c: (
        "ALL" in c.get("securityContext", {}).get("capabilities", {}).get("drop", [])
    ),
    "capabilities.add": lambda pod, c: (
        set(c.get("securityContext", {}).get("capabilities", {}).get("add", []))
        <= {"NET_BIND_SERVICE"}
    ),
    "privileged": lambda pod, c: c.get("securityContext", {}).get("privileged") in (None, False),
    "readOnlyRootFilesystem": lambda pod, c: (
        c.get("securityContext", {}).get("readOnlyRootFilesystem") is True
    ),
    "hostPort": lambda pod, c: all("hostPort" not in port for port in c.get("ports", [])),
    "hostNamespaces": lambda pod, c: (
        not any(pod.get(field) for field in ("hostNetwork", "hostPID", "hostIPC"))
    ),
    "volumes": lambda pod, c: all(
        set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES for volume in pod.get("volumes", [])
    ),
}


def violations(objects: Iterable[Mapping[str, Any]], field: str) -> list[str]:
    found = []
    for obj in objects:
        if obj["kind"] not in POD_TEMPLATE_KINDS:
            continue
        pod = pod_spec(obj)
        for container in _containers(pod):
            if not FIELD_CHECKS[field](pod, container):
                found.append(
                    f"{obj['kind']} {obj['metadata']['name']}, container {container['name']}"
                )
    return found


def _pod_template_names(objects: list[Any]) -> list[str]:
    """Names, with the digest of a Job named per release or declaration cut off."""
    return sorted(
        o["metadata"]["name"].rsplit("-", 1)[0] if o["kind"] == "Job" else o["metadata"]["name"]
        for o in objects
        if o["kind"] in POD_TEMPLATE_KINDS
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SynthReport]:
    root = tmp_path_factory.mktemp("pod-security")
    key = new_age_key(root)
    secrets_file = encrypt_document(FAKE_SECRETS, root / "secrets.yaml", key.recipient)
    environments = {
        **ENVIRONMENTS,
        "dev-sops": replace(ENVIRONMENTS["dev"], name="dev-sops", secret_mode=SecretMode.SOPS),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
        return {
            name: synthesize(
                SynthRequest(environment=name, outdir=root / name, secrets_file=secrets_file),
                environments,
            )
            for name in environments
        }


@pytest.mark.parametrize("field", sorted(FIELD_CHECKS))
def test_pod_security_restricted(reports: Mapping[str, SynthReport], field: str) -> None:
    for name, report in reports.items():
        assert violations(list(report.objects), field) == [], f"{name}: {field}"
    # Every pod template was looked at: the proxy, the apps, the migration and key Jobs (and
    # prod's key CronJob), and in dev the in-cluster Valkey and Postgres.
    covered = {name: _pod_template_names(list(r.objects)) for name, r in reports.items()}
    dev = ["backend", "chatbot", "litellm", "litellm-keys", "litellm-migrate", "postgres", "valkey"]
    assert covered == {
        "dev": dev,
        "dev-sops": dev,
        "prod": [
            "backend",
            "chatbot",
            "litellm",
            "litellm-keys",
            "litellm-keys",
            "litellm-migrate",
        ],
    }


# field -> how a careless edit would break it (applied to a copy of a good Deployment).
BREAKERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "runAsNonRoot": lambda pod: pod["containers"][0]["securityContext"].update(runAsNonRoot=False),
    "runAsUser": lambda pod: pod["containers"][0]["securityContext"].update(runAsUser=0),
    "runAsGroup": lambda pod: pod["containers"][0]["securityContext"].update(runAsGroup=0),
    "seccompProfile": lambda pod: pod["containers"][0]["securityContext"].update(
        seccompProfile={"type": "Unconfined"}
    ),
    "allowPrivilegeEscalation": lambda pod: pod["containers"][0]["securityContext"].pop(
        "allowPrivilegeEscalation"
    ),
    "capabilities.drop": lambda pod: pod["containers"][0]["securityContext"].pop("capabilities"),
    "capabilities.add": lambda pod: pod["containers"][0]["securityContext"]["capabilities"].update(
        add=["NET_ADMIN"]
    ),
    "privileged": lambda pod: pod["containers"][0]["securityContext"].update(privileged=True),
    "readOnlyRootFilesystem": lambda pod: pod["containers"][0]["securityContext"].update(
        readOnlyRootFilesystem=False
    ),
    "hostPort": lambda pod: pod["containers"][0]["ports"][0].update(hostPort=4000),
    "hostNamespaces": lambda pod: pod.update(hostNetwork=True),
    "volumes": lambda pod: pod.setdefault("volumes", []).append(
        {"name": "host", "hostPath": {"path": "/"}}
    ),
}


@pytest.mark.parametrize("field", sorted(FIELD_CHECKS))
def test_pod_security_check_catches_a_broken_field(
    reports: Mapping[str, SynthReport], field: str
) -> None:
    """Guards the test above: each field's check fails on a pod that breaks only that field."""
    assert set(BREAKERS) == set(FIELD_CHECKS)
    prod_objects: list[Any] = list(reports["prod"].objects)
    (deployment,) = [
        o for o in prod_objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "litellm"
    ]
    broken: Any = copy.deepcopy(dict(deployment))
    BREAKERS[field](broken["spec"]["template"]["spec"])
    # A pod-level field breaks every container of the pod, the schema gate included.
    pod_level = field in ("hostNamespaces", "volumes")
    names = ["schema-gate", "litellm"] if pod_level else ["litellm"]
    assert violations([broken], field) == [f"Deployment litellm, container {n}" for n in names]
    others = [f for f in FIELD_CHECKS if f != field and violations([broken], f)]
    assert others == []


def test_pod_security_namespace_enforces_restricted(reports: Mapping[str, SynthReport]) -> None:
    for report in reports.values():
        objects: list[Any] = list(report.objects)
        (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
        labels = namespace["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.28"
