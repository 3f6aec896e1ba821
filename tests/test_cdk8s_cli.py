"""`cdk8s synth`, the documented alternative to `make synth`, run through the real cdk8s CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers import FAKE_SECRETS, PROJECT_ROOT, AgeKey, all_values, clean_env, tree_bytes

CDK8S = PROJECT_ROOT / "node_modules" / ".bin" / "cdk8s"


def cdk8s_synth(
    app_args: str, scratch: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    assert CDK8S.exists(), "the cdk8s CLI is installed by `make test` (npm ci)"
    return subprocess.run(
        [
            str(CDK8S),
            "synth",
            "--no-check-upgrade",
            "--output",
            str(scratch),
            "--app",
            f"make --silent --no-print-directory synth {app_args}",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_cdk8s_cli_synth_writes_dist_and_lists_it(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    outdir, scratch = tmp_path / "dist", tmp_path / "cli-out"
    result = cdk8s_synth(
        f"ENV=dev SECRETS={fixture_secrets} OUTDIR={outdir}",
        scratch,
        clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
    )
    assert result.returncode == 0, result.stderr
    assert f"  - {scratch}/20-gateway.k8s.yaml" in result.stdout
    assert "environment: dev" in result.stderr  # the app's report reaches the user
    for value in all_values(FAKE_SECRETS):
        assert value not in result.stdout + result.stderr
    for link in scratch.iterdir():
        assert link.is_symlink()
        assert link.resolve() == (outdir / link.name).resolve()
    assert (outdir / "10-secrets.k8s.yaml").stat().st_mode & 0o777 == 0o600


def test_cdk8s_cli_failed_synth_leaves_previous_dist(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    outdir, scratch = tmp_path / "dist", tmp_path / "cli-out"
    env = clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file))
    first = cdk8s_synth(f"SECRETS={fixture_secrets} OUTDIR={outdir}", scratch, env)
    assert first.returncode == 0, first.stderr
    before = tree_bytes(outdir)

    failed = cdk8s_synth(f"SECRETS={tmp_path / 'absent.yaml'} OUTDIR={outdir}", scratch, env)
    assert failed.returncode != 0
    assert "error: secrets file" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert tree_bytes(outdir) == before
