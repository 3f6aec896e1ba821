"""The CLI as users and Tilt run it: a real process, real sops, real keys."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lib.environments import ENVIRONMENTS
from lib.errors import one_line
from lib.secrets.demo_key import DEMO_KEY_FILE, DEMO_RECIPIENT
from lib.synthesis import SynthRequest, synthesize
from tests.helpers import (
    FAKE_SECRETS,
    PROJECT_ROOT,
    AgeKey,
    all_values,
    clean_env,
    new_age_key,
    run_cli,
    tree_bytes,
    without_gateway,
)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for value in all_values(FAKE_SECRETS):
        assert value not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def previous_output(tmp_path: Path) -> Path:
    """A dist/ from an earlier run that a failing synth must leave exactly as it was."""
    outdir = tmp_path / "dist"
    outdir.mkdir()
    (outdir / "20-gateway.k8s.yaml").write_text("kind: Previous\n")
    return outdir


def test_cli_synthesizes_and_says_what_it_used(
    fixture_secrets: Path, age_key: AgeKey, tmp_path: Path
) -> None:
    outdir = tmp_path / "out"
    result = run_cli(
        "--env",
        "dev",
        "--secrets",
        str(fixture_secrets),
        "--outdir",
        str(outdir),
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
    )
    assert result.returncode == 0, result.stderr
    assert "environment: dev (secret mode: plain)" in result.stdout
    assert (
        f"secrets: {fixture_secrets} (nested layout; decrypted with your sops keys)"
        in result.stdout
    )
    for value in all_values(FAKE_SECRETS):
        assert value not in result.stdout + result.stderr
    assert sorted(p.name for p in outdir.iterdir()) == [
        ".gitignore",  # makes the directory invisible to git (lib/outdir/writer.py)
        ".seance-synth",  # the stamp: which files this tool wrote (lib/outdir/stamp.py)
        "00-namespace.k8s.yaml",
        "10-secrets.k8s.yaml",
        "20-gateway.k8s.yaml",
    ]
    assert result.stderr == ""


def test_cli_default_environment_uses_the_example_file_and_demo_key(tmp_path: Path) -> None:
    """A fresh clone: no key of the user's anywhere, the committed example file decrypts."""
    outdir = tmp_path / "dist"
    env = clean_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = run_cli("--outdir", str(outdir), env=env)
    assert result.returncode == 0, result.stderr
    assert "environment: dev" in result.stdout
    assert (
        "secrets: secrets/secrets.yaml (nested layout; decrypted with the public demo key"
        in result.stdout
    )
    assert (outdir / "10-secrets.k8s.yaml").stat().st_mode & 0o777 == 0o600


def test_cli_runs_from_another_directory(tmp_path: Path) -> None:
    env = clean_env(HOME=str(tmp_path))
    result = run_cli("--outdir", str(tmp_path / "dist"), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"secrets: {PROJECT_ROOT}/secrets/secrets.yaml" in result.stdout


def test_cli_demo_key_matches_its_public_half() -> None:
    import pyrage

    key_lines = [
        ln for ln in DEMO_KEY_FILE.read_text().splitlines() if ln.startswith("AGE-SECRET-KEY-")
    ]
    assert len(key_lines) == 1
    assert str(pyrage.x25519.Identity.from_str(key_lines[0]).to_public()) == DEMO_RECIPIENT
    assert "DEMO KEY - PUBLIC" in DEMO_KEY_FILE.read_text()


def test_cli_prod_refuses_a_file_encrypted_to_the_demo_key(
    previous_output: Path, tmp_path: Path
) -> None:
    before = tree_bytes(previous_output)
    result = run_cli(
        "--env",
        "prod",
        "--secrets",
        "secrets/secrets.yaml",
        "--outdir",
        str(previous_output),
        env=clean_env(HOME=str(tmp_path)),
    )
    assert_one_line_error(
        result,
        "secrets/secrets.yaml is encrypted to the public demo key",
        "environment 'prod' refuses",
    )
    assert tree_bytes(previous_output) == before


def test_cli_wrong_key(fixture_secrets: Path, previous_output: Path, tmp_path: Path) -> None:
    wrong = new_age_key(tmp_path, "wrong")
    before = tree_bytes(previous_output)
    result = run_cli(
        "--secrets",
        str(fixture_secrets),
        "--outdir",
        str(previous_output),
        env=clean_env(HOME=str(tmp_path), SOPS_AGE_KEY_FILE=str(wrong.key_file)),
    )
    assert_one_line_error(result, "the age key found here cannot decrypt", str(fixture_secrets))
    assert tree_bytes(previous_output) == before


def test_cli_missing_file(previous_output: Path, tmp_path: Path) -> None:
    before = tree_bytes(previous_output)
    result = run_cli(
        "--secrets",
        str(tmp_path / "absent.yaml"),
        "--outdir",
        str(previous_output),
        env=clean_env(HOME=str(tmp_path)),
    )
    assert_one_line_error(result, f"secrets file {tmp_path / 'absent.yaml'} does not exist")
    assert tree_bytes(previous_output) == before


def test_cli_non_string_value(
    encrypted: Callable[[object], Path], age_key: AgeKey, previous_output: Path
) -> None:
    document = {
        "litellm": {**FAKE_SECRETS["litellm"], "MAX_BUDGET": 100},
        "stripe": FAKE_SECRETS["stripe"],
    }
    before = tree_bytes(previous_output)
    result = run_cli(
        "--secrets",
        str(encrypted(document)),
        "--outdir",
        str(previous_output),
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
    )
    assert_one_line_error(
        result, "litellm.MAX_BUDGET in", "was encrypted as a number", "quote the value"
    )
    assert tree_bytes(previous_output) == before


def test_cli_unknown_environment(tmp_path: Path) -> None:
    result = run_cli("--env", "staging", "--outdir", str(tmp_path), env=clean_env())
    assert_one_line_error(result, "unknown environment 'staging': use one of dev, prod")


def test_cli_flat_layout_gives_everything_one_shared_secret(
    encrypted: Callable[[object], Path], with_test_key: AgeKey, tmp_path: Path
) -> None:
    """In-process, on dev without its gateway app: an app's gateway key lives in the app's own
    group, which the flat layout does not have (such an app is refused: test_bad_input)."""
    flat = {key: value for group in FAKE_SECRETS.values() for key, value in group.items()}
    outdir = tmp_path / "dist"
    report = synthesize(
        SynthRequest(environment="dev", outdir=outdir, secrets_file=encrypted(flat)),
        {"dev": without_gateway(ENVIRONMENTS["dev"])},
    )
    assert any("(flat layout;" in line for line in report.lines())
    gateway = (outdir / "20-gateway.k8s.yaml").read_text()
    assert gateway.count("name: shared-secrets") == 3  # LiteLLM, Valkey's password, the backend
    assert "name: shared-secrets" in (outdir / "10-secrets.k8s.yaml").read_text()


def test_cli_model_whose_provider_key_is_missing_never_reaches_a_proxy(
    encrypted: Callable[[object], Path], age_key: AgeKey, previous_output: Path
) -> None:
    without_openai = {
        "litellm": {k: v for k, v in FAKE_SECRETS["litellm"].items() if k != "OPENAI_API_KEY"},
        "stripe": FAKE_SECRETS["stripe"],
    }
    before = tree_bytes(previous_output)
    result = run_cli(
        "--secrets",
        str(encrypted(without_openai)),
        "--outdir",
        str(previous_output),
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
    )
    assert_one_line_error(
        result,
        "model 'gpt-4o-mini' (openai/gpt-4o-mini) needs OPENAI_API_KEY",
        "add it to group 'litellm'",
    )
    assert tree_bytes(previous_output) == before


def test_cli_prints_the_key_report(fixture_secrets: Path, age_key: AgeKey, tmp_path: Path) -> None:
    result = run_cli(
        "--secrets",
        str(fixture_secrets),
        "--outdir",
        str(tmp_path / "dist"),
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
    )
    assert result.returncode == 0, result.stderr
    report = "LLM API keys configured: ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENROUTER_API_KEY; "
    assert report + "model providers with no key: none" in result.stdout.splitlines()


def test_cli_refuses_bad_input_before_starting_jsii() -> None:
    """Errors come fast: nothing on the way to the checks imports cdk8s (and its Node process)."""
    probe = (
        "import sys, lib.cli, lib.synthesis; print(sorted(m for m in sys.modules if 'cdk8s' in m))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--secrets", "-x.yaml"),
            "error: main.py: argument --secrets: expected one argument: see `python main.py "
            "--help` (write a path that starts with '-' as --secrets=-name.yaml)",
        ),
        (
            ("--bogus",),
            "error: main.py: unrecognized arguments: --bogus: see `python main.py --help`",
        ),
    ],
)
def test_cli_usage_mistake_is_one_line_and_exit_1(
    args: tuple[str, ...], expected: str, tmp_path: Path
) -> None:
    result = run_cli(*args, "--outdir", str(tmp_path / "dist"), env=clean_env())
    assert (result.returncode, result.stdout, result.stderr) == (1, "", expected + "\n")
    assert not (tmp_path / "dist").exists()


def test_cli_key_names_cannot_write_terminal_escapes_into_the_error_line(
    encrypted: Callable[..., Path], tmp_path: Path
) -> None:
    """Prod needs no key: anyone who opens a pull request can name a key like this."""
    hostile = "\x1b[2J\x1b[31mALL CHECKS PASSED\x1b]0;owned\x07\u202e\x85\x7f"
    secrets = encrypted({**FAKE_SECRETS, "litellm": {**FAKE_SECRETS["litellm"], hostile: "v"}})
    result = run_cli(
        "--env",
        "prod",
        "--secrets",
        str(secrets),
        "--outdir",
        str(tmp_path / "out"),
        env=clean_env(HOME=str(tmp_path)),
    )
    line = assert_one_line_error(result, "holds a control or invisible character")
    assert "'\\x1b[2J\\x1b[31mALL CHECKS PASSED\\x1b]0;owned\\x07\\u202e\\x85\\x7f'" in line
    assert all(character.isprintable() for character in line)


def test_cli_error_line_escapes_what_a_terminal_would_act_on() -> None:
    """The last line of defence, whatever a message quotes (lib/entry.py)."""
    assert one_line("a\n  b\tc\r\n") == "a b c"
    assert one_line("k\x1b[2J\x07\x9b\u202e\u2028\ufeff\U000e0001 é") == (
        "k\\x1b[2J\\x07\\x9b\\u202e\\u2028\\ufeff\\U000e0001 é"
    )


def test_cli_error_line_never_goes_to_stdout_when_stderr_is_closed(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", "-c", f'exec "{sys.executable}" main.py --env staging 2>&-'],
        cwd=PROJECT_ROOT,
        env=clean_env(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")
