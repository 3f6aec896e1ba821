"""What keeps a replicated Deployment serving: disruption budget, spreading, autoscaling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cdk8s
import cdk8s_plus_28 as kplus
from constructs import Construct

from lib.specs.availability import AvailabilitySpec

HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
ZONE_TOPOLOGY = "topology.kubernetes.io/zone"


class Availability(Construct):
    """For ``deployment`` (pods labelled ``pod_labels``) with ``replicas`` pods at least.

    With more than one replica, or an autoscaler:

    - a ``policy/v1`` PodDisruptionBudget: node drains evict at most ``max_unavailable`` pods
      at a time (cdk8s-plus has no PodDisruptionBudget). ``unhealthyPodEvictionPolicy:
      AlwaysAllow``: a pod that is running but not ready (crash-looping, stuck starting) may
      always be evicted, so a broken pod never blocks a node drain; the budget guards only the
      ready pods (beta, on by default since Kubernetes 1.27);
    - ``topologySpreadConstraints``: at most one pod more on any node than on another, as a
      preference (``ScheduleAnyway``: on a cluster without a node autoscaler a hard rule would
      leave scale-ups and rollout surges Pending whenever the balancing node is full), and
      strictly across zones when asked (``DoNotSchedule``: losing a zone must not take most of
      the pods; nodes without a zone label take no pod then, which a zoned cluster does not
      have). ``matchLabelKeys:
      pod-template-hash`` spreads each rollout's pods on their own, not old and new together.
      ``nodeTaintsPolicy: Honor``: nodes whose taints the pod does not tolerate (cordoned
      nodes during a drain, dedicated pools) do not count in the skew, so they cannot hold a
      rescheduled pod back (beta, on by default since 1.26; the default, Ignore, counts them).

    With ``spec.autoscaling``: a CPU HorizontalPodAutoscaler from ``replicas`` to its maximum.
    The Deployment must then have no fixed replica count (cdk8s-plus refuses otherwise).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        deployment: kplus.Deployment,
        pod_labels: Mapping[str, str],
        replicas: int,
        spec: AvailabilitySpec,
    ) -> None:
        super().__init__(scope, construct_id)
        self.disruption_budget: cdk8s.ApiObject | None = None
        self.autoscaler: kplus.HorizontalPodAutoscaler | None = None
        if replicas <= 1 and spec.autoscaling is None:
            return
        selector = {"matchLabels": dict(pod_labels)}
        self.disruption_budget = cdk8s.ApiObject(
            self,
            "disruption-budget",
            api_version="policy/v1",
            kind="PodDisruptionBudget",
            metadata=cdk8s.ApiObjectMetadata(name=name),
        )
        self.disruption_budget.add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {
                    "maxUnavailable": spec.max_unavailable,
                    "selector": selector,
                    "unhealthyPodEvictionPolicy": "AlwaysAllow",
                },
            )
        )
        constraints = [_spread(HOSTNAME_TOPOLOGY, "ScheduleAnyway", selector)]
        if spec.spread_across_zones:
            constraints.append(_spread(ZONE_TOPOLOGY, "DoNotSchedule", selector))
        cdk8s.ApiObject.of(deployment).add_json_patch(
            cdk8s.JsonPatch.add("/spec/template/spec/topologySpreadConstraints", constraints)
        )
        if spec.autoscaling is not None:
            self.autoscaler = kplus.HorizontalPodAutoscaler(
                self,
                "autoscaler",
                metadata=cdk8s.ApiObjectMetadata(name=name),
                target=deployment,
                min_replicas=replicas,
                max_replicas=spec.autoscaling.max_replicas,
                metrics=[
                    kplus.Metric.resource_cpu(
                        kplus.MetricTarget.average_utilization(spec.autoscaling.target_cpu_percent)
                    )
                ],
            )


def _spread(topology_key: str, when_unsatisfiable: str, selector: Any) -> dict[str, Any]:
    return {
        "maxSkew": 1,
        "topologyKey": topology_key,
        "whenUnsatisfiable": when_unsatisfiable,
        "labelSelector": selector,
        "matchLabelKeys": ["pod-template-hash"],
        "nodeTaintsPolicy": "Honor",
    }
