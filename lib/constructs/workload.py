"""Pieces every workload here shares: resource sizes, probes and security contexts."""

from __future__ import annotations

import functools

import cdk8s
import cdk8s_plus_28 as kplus


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
