"""The user commands behind `make age-key`, `make prod-secrets` and `make master-key`, run as
real processes on a copy of the project: real pyrage keys, the real sops, the real synth."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest

from tests.helpers import PROJECT_ROOT, copy_project


def run_task(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lib.tasks", *args],
        cwd=project,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def test_tasks_age_key_writes_a_private_key_sops_finds(project: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    environ = {"XDG_CONFIG_HOME": str(config), "SOPS_AGE_KEY_FILE": ""}
    made = run_task(project, "age-key", env=environ)
    key_file = config / "sops" / "age" / "keys.txt"
    assert made.returncode == 0, made.stderr
    identity = pyrage.x25519.Identity.from_str(key_file.read_text().splitlines()[1])
    recipient = str(identity.to_public())
    assert made.stdout.splitlines()[0] == (
        f"wrote {key_file} (mode 0600); your age public key: {recipient}"
    )
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = run_task(project, "age-key", env=environ)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == (
        f"error: {key_file} already exists (its public key: {recipient}): it is kept; use that "
        "key, or move the file away to make a new one\n"
    )


def test_tasks_prod_secrets_enables_the_rule_and_prod_synthesizes(
    project: Path, tmp_path: Path
) -> None:
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    made = run_task(project, "prod-secrets", recipient)
    assert made.returncode == 0, made.stderr
    assert made.stdout == ("wrote secrets/prod.yaml; edit it with `make edit-secrets ENV=prod`\n")
    rules = (project / ".sops.yaml").read_text()
    assert f"  - path_regex: ^secrets/prod\\.yaml$\n    age: {recipient}\n" in rules
    assert "# - path_regex: ^secrets/prod" not in rules
    assert "set-in-the-secret-store" not in (project / "secrets/prod.yaml").read_text()
    synth = subprocess.run(
        [
            sys.executable,
            "main.py",
            "--env",
            "prod",
            "--explain",
            "--outdir",
            str(tmp_path / "out"),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert synth.returncode == 0, synth.stderr
    assert "key names only, not decrypted: external secrets mode" in synth.stdout
    explained = synth.stdout.split("needs from the cluster:\n", 1)[1].splitlines()
    # What prod's own objects need: its kinds, its Ingress, its Redis, its store.
    for line in (
        "- CRD externalsecrets.external-secrets.io (for ExternalSecret): install the External "
        "Secrets Operator (v0.17 or newer, for external-secrets.io/v1)",
        "- CRD servicemonitors.monitoring.coreos.com (for ServiceMonitor): install "
        "prometheus-operator (e.g. the kube-prometheus-stack Helm chart)",
        "- CRD httproutes.gateway.networking.k8s.io (for HTTPRoute): install the Gateway API "
        "CRDs, and a Gateway controller serving the Gateway the route names",
        "- Gateway gateway/public, listener https, allowing routes from namespace seance, with "
        "the certificate for its hosts",
        "- the Gateway's data plane pods in the namespace labelled "
        "kubernetes.io/metadata.name=envoy-gateway-system, labelled "
        "gateway.envoyproxy.io/owning-gateway-name=public (the NetworkPolicies let them in)",
        "- DNS: backend.seance.dev resolving to the ingress controller or Gateway",
        "- Redis or Valkey at valkey-primary.valkey.svc.cluster.local:6379, db 0, reachable "
        "from namespace seance; its password under key REDIS_PASSWORD of group litellm",
        "- in store seance-secret-store: remote secret seance/litellm with properties "
        "LITELLM_MASTER_KEY, OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENROUTER_API_KEY, "
        "REDIS_PASSWORD, LITELLM_SALT_KEY, DATABASE_PASSWORD (the real values)",
        "- in store seance-secret-store: remote secret seance/chatbot with properties "
        "LITELLM_API_KEY (the real values)",
        "- Postgres at postgres-rw.postgres.svc.cluster.local:5432, database litellm, user "
        "litellm (sslmode require), reachable from namespace seance; its password under key "
        "DATABASE_PASSWORD of group litellm (docs/database.md)",
        "- in store seance-secret-store: remote secret seance/stripe with properties "
        "STRIPE_SECRET_KEY, STRIPE_PRICE_ID (the real values)",
    ):
        assert line in explained
    assert not any("TLS Secret" in line for line in explained)  # the Gateway holds it
    again = run_task(project, "prod-secrets", recipient)
    assert again.stderr == (
        "error: secrets/prod.yaml already exists: edit it with `make edit-secrets ENV=prod`\n"
    )


def test_tasks_prod_secrets_refuses_the_demo_key(project: Path) -> None:
    from lib.secrets.demo_key import DEMO_RECIPIENT

    refused = run_task(project, "prod-secrets", DEMO_RECIPIENT)
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: the demo key is public: pass your team's own age public keys\n"
    )
    assert not (project / "secrets/prod.yaml").exists()


def test_tasks_edit_secrets_without_a_rule_says_what_to_run(project: Path) -> None:
    refused = run_task(project, "edit-secrets", "--env", "prod")
    assert refused.returncode == 1
    assert refused.stderr == (
        f"error: {project / 'secrets/prod.yaml'} does not exist and no creation rule in "
        ".sops.yaml matches it: for the prod file run `make prod-secrets RECIPIENTS=age1...` "
        "(your age public keys, comma-separated; `make age-key` makes one)\n"
    )


def test_tasks_master_key_is_the_dev_files_own(project: Path) -> None:
    shown = run_task(project, "master-key", env={"SOPS_AGE_KEY_FILE": "/nonexistent"})
    assert shown.returncode == 0, shown.stderr
    from lib.secrets.demo_key import DEMO_KEY_FILE
    from lib.secrets.encrypted_file import inspect_encrypted_file
    from lib.secrets.sops import AgeIdentity, decrypt

    document = decrypt(
        inspect_encrypted_file(PROJECT_ROOT / "secrets/secrets.yaml"),
        identity=AgeIdentity(key_file=DEMO_KEY_FILE),
    )
    litellm = document["litellm"]
    assert isinstance(litellm, dict)
    assert shown.stdout == litellm["LITELLM_MASTER_KEY"]


def test_tasks_master_key_in_external_mode_points_at_the_cluster(project: Path) -> None:
    refused = run_task(project, "master-key", "--env", "prod")
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: environment 'prod' reads its values from the secret store: read the master "
        "key there, or in the cluster with `kubectl -n seance get secret litellm -o "
        "jsonpath='{.data.LITELLM_MASTER_KEY}' | base64 -d`\n"
    )
