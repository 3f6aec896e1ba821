"""An app that consumes secret groups: Deployment and Service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.constructs.workload import (
    http_probe,
    resources,
    restrict_pod,
    restricted_container_security,
    restricted_pod_security,
    select_by_labels,
    service_for,
)
from lib.specs.apps import ConsumerAppSpec, HttpProbes


class ConsumerApp(Construct):
    """A Deployment whose container gets exactly ``secrets`` through envFrom, and its Service.

    Apps run under Pod Security "restricted" with a read-only root filesystem, as the numeric
    user of their spec, with the probes of their spec. ``pod_annotations`` carries the secrets
    digest, so a rotated key rolls the pods. ``env``: single variables (the gateway's base URL
    and the app's key under the names it chose). ``init_containers``: run first (the wait for
    the app's gateway key).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: ConsumerAppSpec,
        secrets: Sequence[kplus.ISecret],
        pod_annotations: Mapping[str, str] | None = None,
        env: Mapping[str, kplus.EnvValue] | None = None,
        init_containers: Sequence[kplus.ContainerProps] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        labels = {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/component": "app"}
        self.pod_labels = labels
        probes = spec.probes if isinstance(spec.probes, HttpProbes) else None
        self.deployment = kplus.Deployment(
            self,
            "deployment",
            metadata=cdk8s.ApiObjectMetadata(name=spec.name, labels=labels),
            select=False,  # select_by_labels below
            replicas=spec.replicas,
            pod_metadata=cdk8s.ApiObjectMetadata(labels=labels, annotations=pod_annotations),
            security_context=restricted_pod_security(user=spec.run_as_user, group=spec.run_as_user),
            automount_service_account_token=False,
            init_containers=list(init_containers) or None,
            containers=[
                kplus.ContainerProps(
                    name=spec.name,
                    image=str(spec.image),
                    image_pull_policy=kplus.ImagePullPolicy.IF_NOT_PRESENT,
                    args=list(spec.args) or None,
                    ports=[kplus.ContainerPort(number=spec.port, name="http")],
                    env_from=[kplus.Env.from_secret(secret) for secret in secrets],
                    env_variables=dict(env) if env else None,
                    security_context=restricted_container_security(
                        user=spec.run_as_user, group=spec.run_as_user
                    ),
                    readiness=_probe(probes.readiness_path, spec.port, probes) if probes else None,
                    liveness=_probe(probes.liveness_path, spec.port, probes) if probes else None,
                    resources=resources(
                        cpu_request_millis=50, memory_request_mib=64, memory_limit_mib=256
                    ),
                )
            ],
        )
        select_by_labels(self.deployment, labels)
        restrict_pod(self.deployment)
        self.service = service_for(
            self,
            "service",
            name=spec.name,
            labels=labels,
            ports=[kplus.ServicePort(port=spec.port, target_port=spec.port, name="http")],
        )


def _probe(path: str, port: int, probes: HttpProbes) -> kplus.Probe:
    return http_probe(
        path, port, period_seconds=probes.period_seconds, failure_threshold=probes.failure_threshold
    )
