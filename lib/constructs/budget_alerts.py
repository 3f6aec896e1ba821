"""A prometheus-operator PrometheusRule: alert before an app's gateway key runs out of budget.

LiteLLM's Prometheus callback exports, per key and labelled with the key's alias
(``api_key_alias``), the remaining budget (``litellm_remaining_api_key_budget_metric``) and
the spend (``litellm_spend_metric_total``). Each app with a budget gets two alerts: most of the
budget spent (warning), and all of it spent (critical: LiteLLM refuses the key's requests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cdk8s
from constructs import Construct

API_VERSION = "monitoring.coreos.com/v1"
REMAINING_METRIC = "litellm_remaining_api_key_budget_metric"


@dataclass(frozen=True)
class BudgetAlert:
    """One app's key: its alias, budget in US dollars and the share that warns."""

    app: str
    alias: str
    max_budget_usd: float
    warn_ratio: float


@dataclass(frozen=True)
class BudgetAlertsProps:
    """``labels``: the rule's labels, which Prometheus selects rules by (kube-prometheus-stack's
    ``ruleSelector`` matches ``release: <its release name>``, like its ServiceMonitors)."""

    name: str
    alerts: Sequence[BudgetAlert]
    labels: Mapping[str, str] = field(default_factory=dict)


def remaining_expr(alias: str) -> str:
    """The remaining budget of one key; every proxy process reports it, so take the lowest."""
    return f'min by (api_key_alias) ({REMAINING_METRIC}{{api_key_alias="{alias}"}})'


class BudgetAlerts(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: BudgetAlertsProps) -> None:
        super().__init__(scope, construct_id)
        rules: list[dict[str, object]] = []
        for alert in props.alerts:
            left = alert.max_budget_usd * (1 - alert.warn_ratio)
            rules += [
                {
                    "alert": "GatewayKeyBudgetMostlySpent",
                    "expr": f"{remaining_expr(alert.alias)} < {left:g}",
                    "for": "5m",
                    "labels": {"severity": "warning", "app": alert.app},
                    "annotations": {
                        "summary": f"App {alert.app} has spent {alert.warn_ratio:.0%} of its "
                        f"${alert.max_budget_usd:g} gateway budget",
                        "description": 'Less than ${{ $value | printf "%.2f" }} left; at $0 '
                        "LiteLLM refuses its requests until the budget resets "
                        "(docs/gateway-keys.md).",
                    },
                },
                {
                    "alert": "GatewayKeyBudgetExhausted",
                    "expr": f"{remaining_expr(alert.alias)} <= 0",
                    "for": "1m",
                    "labels": {"severity": "critical", "app": alert.app},
                    "annotations": {
                        "summary": f"App {alert.app} has spent its whole ${alert.max_budget_usd:g}"
                        " gateway budget: its requests are refused",
                        "description": "Raise max_budget_usd in lib/environments.py or wait for "
                        "the budget_duration to reset it (docs/gateway-keys.md).",
                    },
                },
            ]
        self.api_object = cdk8s.ApiObject(
            self,
            "resource",
            api_version=API_VERSION,
            kind="PrometheusRule",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels=dict(props.labels)),
        )
        spec = {"groups": [{"name": "gateway-key-budgets", "rules": rules}]}
        self.api_object.add_json_patch(cdk8s.JsonPatch.add("/spec", spec))
