"""Composes the charts of one environment into the files of dist/."""

from __future__ import annotations

import os
from collections.abc import Mapping

from lib.environments import Environment, SecretMode
from lib.output import ManifestFile
from lib.secrets.gateway_secrets import GatewaySecrets
from lib.secrets.model import SecretsDocument
from lib.wiring import Wiring

NAMESPACE_FILE = "00-namespace.k8s.yaml"
SECRETS_FILES = {
    SecretMode.PLAIN: "10-secrets.k8s.yaml",
    SecretMode.EXTERNAL: "10-external-secrets.k8s.yaml",
    SecretMode.SOPS: "10-secrets.sops.k8s.yaml",
}
GATEWAY_FILE = "20-gateway.k8s.yaml"


def build_manifests(
    environment: Environment,
    secrets: SecretsDocument,
    wiring: Wiring,
    secrets_digests: Mapping[str, str],
    gateway_secrets: GatewaySecrets | None = None,
) -> list[ManifestFile]:
    """Every object of ``environment``, one file per chart, named so that apply order is right."""
    # jsii prints a large end-of-life banner on Node 20 at every start; it is noise here.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    # Imported here, not at module level: starting jsii's Node process costs most of a synth,
    # and bad input should be refused before paying for it.
    import cdk8s

    from charts.gateway_chart import GatewayChart
    from charts.namespace_chart import NamespaceChart
    from charts.secrets_chart import SecretsChart

    app = cdk8s.App()
    namespace = NamespaceChart(app, "namespace", namespace=environment.namespace)
    external = environment.secret_mode is SecretMode.EXTERNAL
    secrets_chart = SecretsChart(
        app,
        "secrets",
        namespace=environment.namespace,
        secrets=secrets,
        external=environment.external_secrets if external else None,
    )
    gateway = GatewayChart(
        app,
        "gateway",
        environment=environment,
        wiring=wiring,
        secrets_by_group=secrets_chart.by_group,
        secrets_digests=secrets_digests,
        gateway_secrets=gateway_secrets,
    )
    return [
        ManifestFile(NAMESPACE_FILE, namespace.to_json()),
        ManifestFile(
            SECRETS_FILES[environment.secret_mode],
            secrets_chart.to_json(),
            private=environment.secret_mode is SecretMode.PLAIN,
            sops_encrypt=environment.secret_mode is SecretMode.SOPS,
        ),
        ManifestFile(GATEWAY_FILE, gateway.to_json()),
    ]
