"""The secret values the database and the per-app gateway keys need, checked before anything
is built: the salt key, the database password, each app's key.

Only this package holds decrypted values. What leaves it is typed and value-free: which keys
exist, and digests (``lib/secrets/digest.py``'s keyed HMAC) that change when a value changes.
In external mode (key names only) the checks that need values run in the cluster instead: the
reconciler refuses a malformed or reused key value, the migration Job a changed salt key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lib.errors import SynthError
from lib.secrets.digest import values_digest
from lib.secrets.model import MASTER_KEY, SecretsDocument

SALT_KEY = "LITELLM_SALT_KEY"
# `openssl rand -hex 32` gives 64 characters of 16 kinds; anything this long and this varied is
# not a word or a pattern someone typed.
MIN_SALT_KEY_CHARS = 32
MIN_SALT_KEY_DISTINCT = 12
MIN_APP_KEY_SECRET_CHARS = 20
_PRINTABLE = frozenset(chr(c) for c in range(0x21, 0x7F))


@dataclass(frozen=True)
class AppKeyRequest:
    """An app that needs a gateway key: its name and the group and key holding the value."""

    app: str
    group: str
    key: str


@dataclass(frozen=True)
class GatewaySecrets:
    """What the synth may know: the keys exist and are valid. ``keys_digest``: changes when any
    app key value changes (None without values, in external mode)."""

    keys_digest: str | None


def check_gateway_secrets(
    secrets: SecretsDocument,
    *,
    litellm_group: str,
    database_password_key: str | None,
    apps: Sequence[AppKeyRequest],
    where: str,
) -> GatewaySecrets:
    """Refuse a missing or weak salt key, a missing database password, and a missing, malformed
    or reused app key; messages name the file, group and key, never a value."""
    edit = f"`make edit-secrets SECRETS={secrets.source}`"
    litellm = secrets.group_named(litellm_group)
    litellm_keys = litellm.keys if litellm is not None else ()
    if database_password_key is not None:
        if SALT_KEY not in litellm_keys:
            raise SynthError(
                f"{secrets.source}: group '{litellm_group}', key '{SALT_KEY}' is missing: with a "
                "database LiteLLM encrypts stored credentials with it (and would fall back to the "
                "master key); make one with `openssl rand -hex 32` and add it with "
                f"{edit}"
            )
        if database_password_key not in litellm_keys:
            raise SynthError(
                f"{secrets.source}: group '{litellm_group}', key '{database_password_key}' is "
                f"missing: {where} has a database whose password LiteLLM reads from it; add it "
                f"with {edit} (for the in-cluster Postgres any long random string, e.g. "
                "`openssl rand -hex 24`)"
            )
    for request in apps:
        group = secrets.group_named(request.group)
        if group is None or request.key not in group.keys:
            raise SynthError(
                f"{secrets.source}: group '{request.group}', key '{request.key}' is missing: app "
                f"'{request.app}' has gateway access and needs a key of its own; make one with "
                f"`echo \"sk-$(openssl rand -hex 32)\"` and add it under '{request.group}:' with "
                f"{edit}"
            )
    master_key = secrets.master_key
    if master_key is None:
        return GatewaySecrets(keys_digest=None)
    if database_password_key is not None and litellm is not None:
        _check_salt_key(litellm.decrypted_values()[SALT_KEY], master_key, litellm_group, secrets)
    values = {
        request.app: group.decrypted_values()[request.key]
        for request in apps
        if (group := secrets.group_named(request.group)) is not None
    }
    return GatewaySecrets(keys_digest=_check_app_keys(values, apps, master_key, secrets))


def _check_salt_key(value: str, master_key: str, group: str, secrets: SecretsDocument) -> None:
    where = f"{secrets.source}: group '{group}', key '{SALT_KEY}'"
    make = (
        "make one with `openssl rand -hex 32` and set it with "
        f"`make edit-secrets SECRETS={secrets.source}`"
    )
    if value == master_key:
        raise SynthError(
            f"{where} equals the master key, so rotating the master key would lock every stored "
            f"credential: {make}"
        )
    if (
        len(value) < MIN_SALT_KEY_CHARS
        or len(set(value)) < MIN_SALT_KEY_DISTINCT
        or not set(value) <= _PRINTABLE
    ):
        raise SynthError(
            f"{where} is not long and random enough (at least {MIN_SALT_KEY_CHARS} printable "
            f"characters without spaces, of at least {MIN_SALT_KEY_DISTINCT} different kinds): "
            f"{make}"
        )


def _check_app_keys(
    values: Mapping[str, str],
    apps: Sequence[AppKeyRequest],
    master_key: str,
    secrets: SecretsDocument,
) -> str | None:
    make = (
        'make a new one with `echo "sk-$(openssl rand -hex 32)"` and set it with '
        f"`make edit-secrets SECRETS={secrets.source}`"
    )
    seen: dict[str, str] = {}
    labelled: list[tuple[str, str]] = []
    for request in apps:
        value = values[request.app]
        where = f"{secrets.source}: group '{request.group}', key '{request.key}'"
        if not value.startswith("sk-") or not set(value) <= _PRINTABLE:
            raise SynthError(
                f"{where} must start with 'sk-' as LiteLLM keys must, without spaces: {make}"
            )
        if len(value) - len("sk-") < MIN_APP_KEY_SECRET_CHARS:
            raise SynthError(
                f"{where} is too short to be safe (fewer than {MIN_APP_KEY_SECRET_CHARS} "
                f"characters after 'sk-'): {make}"
            )
        if value == master_key:
            raise SynthError(
                f"{where} equals the master key ({MASTER_KEY}), which must never reach an app: "
                f"{make}"
            )
        if value in seen:
            raise SynthError(
                f"{where} has the same value as the key of app '{seen[value]}': each app needs "
                f"its own; {make}"
            )
        seen[value] = request.app
        labelled.append((request.app, value))
    return values_digest(labelled, master_key) if labelled else None
