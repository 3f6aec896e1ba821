"""Bad gateway declarations and key values, as a user makes them: an edit to
lib/environments.py or to the secrets file. Each is refused by the real CLI, run as a process on
a copy of the project, in one ``error:`` line, exit 1, with no value in its output and nothing
written (the previous output stays as it was)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import (
    FAKE_MASTER_KEY,
    FAKE_SECRETS,
    PROJECT_ROOT,
    AgeKey,
    all_values,
    clean_env,
    encrypt_document,
    tree_bytes,
)

Secrets = dict[str, dict[str, str]]
CHATBOT_MODELS = 'models=("gpt-4o-mini",),\n        max_budget_usd=20,'
BACKEND_INGRESS = '    route=AppRoute(path="/"),\n)'


@dataclass(frozen=True)
class BadDeclaration:
    """An edit to lib/environments.py (old text, new text) and/or to the secrets."""

    expected: tuple[str, ...]
    edits: tuple[tuple[str, str], ...] = ()
    secrets: Callable[[Secrets], Secrets] = lambda secrets: secrets
    extra_values: tuple[str, ...] = field(default=())


def _with(group: str, **values: str) -> Callable[[Secrets], Secrets]:
    return lambda secrets: {**secrets, group: {**secrets.get(group, {}), **values}}


def _without(group: str, key: str) -> Callable[[Secrets], Secrets]:
    return lambda secrets: {
        name: {k: v for k, v in keys.items() if (name, k) != (group, key)}
        for name, keys in secrets.items()
        if (name, key) != (group, key) or len(keys) > 1
    }


_BACKEND_WITH_GATEWAY = (
    BACKEND_INGRESS,
    '    route=AppRoute(path="/"),\n    gateway=GatewayAccess(models=("gpt-4o-mini",)),\n)',
)
CASES: dict[str, BadDeclaration] = {
    "unknown model": BadDeclaration(
        edits=((CHATBOT_MODELS, CHATBOT_MODELS.replace("gpt-4o-mini", "gpt-5")),),
        expected=(
            "error: lib/environments.py, environment 'dev': app 'chatbot' gateway models "
            "['gpt-5'] are not models of the environment (gpt-4o-mini, claude-sonnet, "
            "openrouter-default): use one of them or add a ModelSpec",
        ),
    ),
    "negative budget": BadDeclaration(
        edits=((CHATBOT_MODELS, CHATBOT_MODELS.replace("=20", "=-5")),),
        expected=(
            # A spec's refusal as the table is built names the entry (lib/table_slips.py).
            "(used by environments 'dev', 'prod'), gateway: GatewayAccess max_budget_usd -5 must "
            "be positive (US dollars)",
        ),
    ),
    "zero rpm": BadDeclaration(
        edits=(("rpm_limit=60", "rpm_limit=0"),),
        expected=("GatewayAccess rpm_limit 0 must be a positive whole number",),
    ),
    "budget duration not in LiteLLM's syntax": BadDeclaration(
        edits=(('budget_duration="30d"', 'budget_duration="30 days"'),),
        expected=("budget_duration '30 days' is not in LiteLLM's syntax",),
    ),
    "duplicate alias": BadDeclaration(
        edits=(
            (
                BACKEND_INGRESS,
                '    route=AppRoute(path="/"),\n'
                '    gateway=GatewayAccess(models=("gpt-4o-mini",), alias="chatbot"),\n)',
            ),
        ),
        expected=(
            "error: lib/environments.py, environment 'dev': app 'chatbot' has gateway key "
            "alias 'chatbot', which app 'backend' already uses: give one of them another alias",
        ),
    ),
    "the LiteLLM group on an app": BadDeclaration(
        edits=(('secret_groups=("stripe",)', 'secret_groups=("stripe", "litellm")'),),
        expected=(
            "error: lib/environments.py, environment 'dev': app 'backend' lists the LiteLLM "
            "group 'litellm', which holds the master key",
            "gateway=GatewayAccess(models=(...)) (docs/gateway-keys.md)",
        ),
    ),
    "missing key value": BadDeclaration(
        secrets=lambda secrets: {k: v for k, v in secrets.items() if k != "chatbot"},
        expected=(
            "group 'chatbot', key 'LITELLM_API_KEY' is missing: app 'chatbot' has gateway "
            'access and needs a key of its own; make one with `echo "sk-$(openssl rand -hex '
            "32)\"` and add it under 'chatbot:' with `make edit-secrets SECRETS=",
        ),
    ),
    "key value equal to the master key": BadDeclaration(
        secrets=_with("chatbot", LITELLM_API_KEY=FAKE_MASTER_KEY),
        expected=(
            "group 'chatbot', key 'LITELLM_API_KEY' equals the master key (LITELLM_MASTER_KEY), "
            "which must never reach an app",
        ),
    ),
    "key value reused by another app": BadDeclaration(
        edits=(_BACKEND_WITH_GATEWAY,),
        secrets=_with("backend", LITELLM_API_KEY=FAKE_SECRETS["chatbot"]["LITELLM_API_KEY"]),
        expected=(
            "group 'chatbot', key 'LITELLM_API_KEY' has the same value as the key of app "
            "'backend': each app needs its own",
        ),
    ),
    "key value without sk-": BadDeclaration(
        secrets=_with("chatbot", LITELLM_API_KEY="chatbot-0123456789abcdef0123456789"),
        expected=("key 'LITELLM_API_KEY' must start with 'sk-' as LiteLLM keys must",),
        extra_values=("chatbot-0123456789abcdef0123456789",),
    ),
    "missing salt key": BadDeclaration(
        secrets=_without("litellm", "LITELLM_SALT_KEY"),
        expected=("group 'litellm', key 'LITELLM_SALT_KEY' is missing: with a database",),
    ),
    "salt key equal to the master key": BadDeclaration(
        secrets=_with("litellm", LITELLM_SALT_KEY=FAKE_MASTER_KEY),
        expected=(
            "key 'LITELLM_SALT_KEY' equals the master key, so rotating the master key would "
            "lock every stored credential: make one with `openssl rand -hex 32`",
        ),
    ),
    "salt key too weak": BadDeclaration(
        secrets=_with("litellm", LITELLM_SALT_KEY="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        expected=("key 'LITELLM_SALT_KEY' is not long and random enough",),
        extra_values=("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",),
    ),
    "missing database password": BadDeclaration(
        secrets=_without("litellm", "DATABASE_PASSWORD"),
        expected=("group 'litellm', key 'DATABASE_PASSWORD' is missing",),
    ),
    "admin UI with the prefix stripped": BadDeclaration(
        edits=(
            (
                "path_prefix_mode=PathPrefixMode.ROOT_PATH,",
                "path_prefix_mode=PathPrefixMode.REWRITE,",
            ),
        ),
        expected=("admin_ui needs path_prefix_mode=PathPrefixMode.ROOT_PATH",),
    ),
}


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files of the project, once; each case copies lib/environments.py over."""
    root = tmp_path_factory.mktemp("project")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    return root


@pytest.mark.parametrize("case", sorted(CASES))
def test_gateway_bad_declaration_is_one_line_and_writes_nothing(
    case: str, project_copy: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    bad = CASES[case]
    environments = (PROJECT_ROOT / "lib" / "environments.py").read_text()
    for old, new in bad.edits:
        assert environments.count(old) == 1, old
        environments = environments.replace(old, new)
    (project_copy / "lib" / "environments.py").write_text(environments)
    secrets = bad.secrets({group: dict(keys) for group, keys in FAKE_SECRETS.items()})
    secrets_file = encrypt_document(secrets, tmp_path / "secrets.yaml", age_key.recipient)
    outdir = tmp_path / "dist"
    outdir.mkdir()
    (outdir / "previous.k8s.yaml").write_text("kind: List\n")
    before = tree_bytes(outdir)
    result = subprocess.run(
        [sys.executable, "main.py", "--secrets", str(secrets_file), "--outdir", str(outdir)],
        cwd=project_copy,
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    (project_copy / "lib" / "environments.py").write_text(
        (PROJECT_ROOT / "lib" / "environments.py").read_text()
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    for fragment in bad.expected:
        assert fragment in result.stderr
    for value in (*all_values(FAKE_SECRETS), *bad.extra_values):
        assert value not in result.stderr
    assert tree_bytes(outdir) == before
