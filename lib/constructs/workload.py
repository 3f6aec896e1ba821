"""Pieces every workload here shares: resource sizes, probes and security contexts."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

# cdk8s-plus's pod label holding the construct path (kplus.Pod.ADDRESS_LABEL), as a JSON
# pointer segment ("/" is written "~1").
_ADDRESS_LABEL_POINTER = "cdk8s.io~1metadata.addr"


@functools.cache  # value objects, each a jsii round trip to build: one per size, not per app
def resources(
    *, cpu_request_millis: int, memory_request_mib: int, memory_limit_mib: int
) -> kplus.ContainerResources:
    """Requests sized for scheduling, a memory limit, and deliberately no CPU limit.

    A CPU limit throttles a Python server during its start-up burst and makes probes flap;
    the memory limit is what protects the node.
    """
    return kplus.ContainerResources(
        cpu=kplus.CpuResources(request=kplus.Cpu.millis(cpu_request_millis)),
        memory=kplus.MemoryResources(
            request=cdk8s.Size.mebibytes(memory_request_mib),
            limit=cdk8s.Size.mebibytes(memory_limit_mib),
        ),
    )


def http_probe(path: str, port: int, *, period_seconds: int, failure_threshold: int) -> kplus.Probe:
    return kplus.Probe.from_http_get(
        path,
        port=port,
        period_seconds=cdk8s.Duration.seconds(period_seconds),
        failure_threshold=failure_threshold,
        timeout_seconds=cdk8s.Duration.seconds(5),
    )


def dropped_capabilities() -> kplus.ContainerSecutiryContextCapabilities:
    return kplus.ContainerSecutiryContextCapabilities(drop=[kplus.Capability.ALL])


# Pod Security "restricted" (v1.28), field by field: a numeric non-root user and group,
# RuntimeDefault seccomp, no privilege escalation, every capability dropped; on top of the
# standard, a read-only root filesystem (writable paths are emptyDir mounts).
SECCOMP_RUNTIME_DEFAULT = {"type": "RuntimeDefault"}


def restricted_container_security(*, user: int, group: int) -> kplus.ContainerSecurityContextProps:
    return kplus.ContainerSecurityContextProps(
        ensure_non_root=True,
        user=user,
        group=group,
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
        privileged=False,
        capabilities=dropped_capabilities(),
        seccomp_profile=kplus.SeccompProfile(type=kplus.SeccompProfileType.RUNTIME_DEFAULT),
    )


def restricted_pod_security(*, user: int, group: int) -> kplus.PodSecurityContextProps:
    """The pod-level half; ``restrict_pod`` adds the seccomp profile cdk8s-plus cannot set."""
    return kplus.PodSecurityContextProps(
        ensure_non_root=True, user=user, group=group, fs_group=group
    )


def restrict_pod(workload: kplus.Deployment | kplus.Job | kplus.CronJob) -> None:
    """Pod-level settings every pod here shares, which cdk8s-plus does not set.

    - The seccomp profile on the pod too, so that a container added later (a sidecar, a debug
      container) inherits RuntimeDefault; cdk8s-plus sets it on containers only.
    - ``enableServiceLinks: false``: the kubelet would otherwise hand every pod a
      ``<SERVICE>_PORT...`` variable set for each Service of the namespace (``LITELLM_*``,
      ``VALKEY_*``, ...): names that can collide with a program's own settings, and a map of
      the namespace no pod asked for. Cluster DNS finds every Service here.
    """
    pod = (
        "/spec/jobTemplate/spec/template/spec"
        if isinstance(workload, kplus.CronJob)
        else "/spec/template/spec"
    )
    api_object = cdk8s.ApiObject.of(workload)
    api_object.add_json_patch(
        cdk8s.JsonPatch.add(f"{pod}/securityContext/seccompProfile", SECCOMP_RUNTIME_DEFAULT)
    )
    api_object.add_json_patch(cdk8s.JsonPatch.add(f"{pod}/enableServiceLinks", False))
    if not isinstance(workload, kplus.Deployment):
        # A Job's pods are its own (the API server selects them by the Job's uid); the
        # construct-path label cdk8s-plus adds would only change with a rename.
        template = pod.removesuffix("/spec")
        api_object.add_json_patch(
            cdk8s.JsonPatch.remove(f"{template}/metadata/labels/{_ADDRESS_LABEL_POINTER}")
        )


def select_by_labels(deployment: kplus.Deployment, labels: Mapping[str, str]) -> None:
    """Select the Deployment's pods (and, through it, its Service's) by ``labels``, the stable
    ``app.kubernetes.io/name`` and ``app.kubernetes.io/component`` the pod template carries.

    The Deployment must be made with ``select=False``: cdk8s-plus would otherwise select on
    ``cdk8s.io/metadata.addr``, a hash of the construct path, and a Deployment's selector
    cannot change, so renaming a construct would make ``kubectl apply`` fail ("field is
    immutable"). One ``labels`` value feeds the selector, the pod template, the Service, and
    the budget, spread, autoscaler and NetworkPolicies built from ``pod_labels``.
    """
    deployment.select(kplus.LabelSelector.of(labels=dict(labels)))
    # cdk8s-plus labels every pod with its construct path all the same; nothing selects on it
    # here, and a pod label that changes with a rename would only roll the pods for nothing.
    cdk8s.ApiObject.of(deployment).add_json_patch(
        cdk8s.JsonPatch.remove(f"/spec/template/metadata/labels/{_ADDRESS_LABEL_POINTER}")
    )


def service_for(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    labels: Mapping[str, str],
    ports: Sequence[kplus.ServicePort],
) -> kplus.Service:
    """A ClusterIP Service selecting the pods by ``labels`` (the Deployment's own selector):
    cdk8s-plus's ``expose_via_service`` would select on the construct-path label instead."""
    service = kplus.Service(
        scope,
        construct_id,
        metadata=cdk8s.ApiObjectMetadata(name=name),
        ports=list(ports),
    )
    for key, value in labels.items():
        service.select_label(key, value)
    return service
