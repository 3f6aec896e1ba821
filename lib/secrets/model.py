"""The decrypted secrets as typed, validated values.

Two layouts are accepted, as in the original design:

- nested, one group per service: ``litellm: {OPENAI_API_KEY: ...}``, ``stripe: {...}``;
- flat (legacy): ``KEY: value`` at the top level, read as one group named ``shared`` that every
  pod consuming secrets receives.

Everything is validated before anything is built. Messages name the file, group and key, never
a value; values are kept out of ``repr`` so a traceback or a test failure cannot print them.

The same rules apply to key names read from the encrypted file without decrypting it
(``parse_key_names``, for the external-secrets mode); there the groups carry no values.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import cast

from lib.errors import SynthError
from lib.names import MAX_DNS_LABEL, MAX_SECRET_KEY, is_dns_label, is_env_var_name

# The group every key belongs to in the flat layout.
SHARED_GROUP = "shared"
MASTER_KEY = "LITELLM_MASTER_KEY"
# LiteLLM's documented default master key: public, and refused by the proxy itself.
PUBLIC_DEFAULT_MASTER_KEY = "sk-1234"
# Shorter than this after "sk-" is guessable; `openssl rand -hex 32` gives 64.
MIN_MASTER_KEY_SECRET_CHARS = 20
SECRET_NAME_SUFFIX = "-secrets"  # noqa: S105 - part of an object name
# The API server refuses a Secret whose values add up to more than 1 MiB (bytes, after
# decoding: what stringData becomes). Checked here, at synth time, rather than at apply time.
MAX_SECRET_DATA_BYTES = 1024 * 1024
# The master key travels in an HTTP Authorization header and is compared byte for byte: a space,
# a newline left by an editor or a control character would make a key nobody can type back.
_MASTER_KEY_CHARACTERS = re.compile(r"[\x21-\x7e]+")
# Characters no YAML reader on the way to the cluster carries: controls other than tab and line
# breaks, DEL, the C1 range (NEL is a line break to YAML 1.1 and not to 1.2), surrogates and the
# non-characters U+FFFE/U+FFFF. go-yaml (kubectl, kustomize) refuses them, and an environment
# variable cannot hold NUL.
_UNCARRIED_CHARACTER = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# A DNS-1123 label, short enough that "<group>-secrets" is one too (63 characters).
_MAX_GROUP_NAME = MAX_DNS_LABEL - len(SECRET_NAME_SUFFIX)


class Layout(Enum):
    NESTED = "nested"
    FLAT = "flat"


@dataclass(frozen=True)
class SecretGroup:
    """One group of secrets: becomes one Kubernetes Secret, consumed whole through envFrom.

    ``values`` is None when only the key names are known (read without decrypting).
    """

    name: str
    keys: tuple[str, ...]
    values: Mapping[str, str] | None = field(default=None, repr=False)

    @property
    def secret_name(self) -> str:
        return secret_name_for(self.name)

    def decrypted_values(self) -> Mapping[str, str]:
        if self.values is None:
            raise ValueError(f"group '{self.name}' was read without decrypting: no values")
        return self.values


def secret_name_for(group: str) -> str:
    return f"{group}{SECRET_NAME_SUFFIX}"


@dataclass(frozen=True)
class SecretsDocument:
    """All groups of one secrets file, in file order."""

    source: Path
    layout: Layout
    groups: tuple[SecretGroup, ...]
    # Validated: long, random, not the public default. Keys the rollout digests. None when
    # only key names were read.
    master_key: str | None = field(repr=False)

    def group_named(self, name: str) -> SecretGroup | None:
        return next((group for group in self.groups if group.name == name), None)

    def groups_for(self, consumer: str, declared: tuple[str, ...]) -> tuple[SecretGroup, ...]:
        """The groups a pod receives for the groups it declares.

        In the flat layout there is only the shared group, so any declaration resolves to it.
        """
        if not declared:
            return ()
        if self.layout is Layout.FLAT:
            return self.groups
        resolved = []
        for name in declared:
            group = self.group_named(name)
            if group is None:
                known = ", ".join(g.name for g in self.groups)
                raise SynthError(
                    f"{consumer} uses secret group '{name}', which {self.source} does not define "
                    f"(it has: {known}): add a '{name}:' map with `make edit-secrets "
                    f"SECRETS={self.source}` or remove "
                    "the group from the app in lib/environments.py"
                )
            resolved.append(group)
        return tuple(resolved)


def parse_secrets(
    document: Mapping[str, object], source: Path, litellm_group: str
) -> SecretsDocument:
    """Validate a decrypted document and type it; ``litellm_group`` must hold the master key."""
    return _parse(document, source, litellm_group, values_known=True)


def parse_key_names(
    key_paths: Sequence[tuple[str, ...]],
    source: Path,
    litellm_group: str,
    empty_key_paths: Collection[tuple[str, ...]] = (),
    empty_collections: Collection[tuple[tuple[str, ...], bool]] = (),
) -> SecretsDocument:
    """The groups and key names of an encrypted file, checked by the same rules, no values.

    ``key_paths`` come from the encrypted file: ``("litellm", "OPENAI_API_KEY")`` or
    ``("OPENAI_API_KEY",)``; a ``[n]`` element marks a list. ``empty_key_paths`` are leaves
    with no value, refused like an empty value; ``empty_collections`` are empty maps and lists
    (True for a list), put back so that they are refused as in the decrypted document.
    """
    document: dict[str, object] = {}
    for path in key_paths:
        node = document
        for depth, name in enumerate(path):
            if name.startswith("["):
                where = ".".join(path[:depth])
                raise SynthError(
                    f"{source}: {where} is a list: secrets are single strings; join it into one "
                    f"value with `make edit-secrets SECRETS={source}`"
                )
            if depth == len(path) - 1:
                node[name] = "" if path in empty_key_paths else _ENCRYPTED_PLACEHOLDER
            else:
                node = cast(dict[str, object], node.setdefault(name, {}))
    for path, is_list in empty_collections:
        in_list = next((depth for depth, name in enumerate(path) if name.startswith("[")), None)
        if in_list is not None:  # `L: [{}]`: what matters is that L is a list
            path, is_list = path[:in_list], True
        node = document
        for name in path[:-1]:
            node = cast(dict[str, object], node.setdefault(name, {}))
        node.setdefault(path[-1], [] if is_list else {})
    return _parse(document, source, litellm_group, values_known=False)


# Stands for a value that was not decrypted; only ever passes the string checks.
_ENCRYPTED_PLACEHOLDER = "(encrypted)"


def _parse(
    document: Mapping[str, object], source: Path, litellm_group: str, *, values_known: bool
) -> SecretsDocument:
    if not document:
        raise SynthError(
            f"{source} holds no secrets: add them with `make edit-secrets SECRETS={source}` "
            "(see docs/secrets.md)"
        )
    layout = _detect_layout(document, source)
    groups: tuple[SecretGroup, ...]
    if layout is Layout.FLAT:
        groups = (_parse_group(SHARED_GROUP, document, source, flat=True),)
    else:
        groups = tuple(
            _parse_group(_group_name(name, source), values, source, flat=False)
            for name, values in document.items()
            if isinstance(values, Mapping)
        )
    master_key = _checked_master_key(source, layout, groups, litellm_group, values_known)
    if not values_known:
        groups = tuple(SecretGroup(name=group.name, keys=group.keys) for group in groups)
    return SecretsDocument(source=source, layout=layout, groups=groups, master_key=master_key)


def _detect_layout(document: Mapping[str, object], source: Path) -> Layout:
    nested = [key for key, value in document.items() if isinstance(value, Mapping)]
    if not nested:
        return Layout.FLAT
    flat = [key for key, value in document.items() if not isinstance(value, Mapping)]
    if flat:
        raise SynthError(
            f"{source}: mixes top-level keys ({', '.join(flat)}) with groups "
            f"({', '.join(nested)}): move each top-level key into a group with `make edit-secrets "
            f"SECRETS={source}`, "
            "or use the flat layout only"
        )
    return Layout.NESTED


def _group_name(name: str, source: Path) -> str:
    if not is_dns_label(name, _MAX_GROUP_NAME):
        raise SynthError(
            f"{source}: group '{name}' cannot become a Kubernetes Secret name: rename it with "
            f"lowercase letters, digits and '-' (starting and ending with a letter or digit, "
            f"at most {_MAX_GROUP_NAME} characters)"
        )
    return name


def _parse_group(
    group: str, entries: Mapping[str, object], source: Path, *, flat: bool
) -> SecretGroup:
    where_group = "" if flat else f"group '{group}', "
    if not entries:
        raise SynthError(
            f"{source}: group '{group}' is empty: add its keys with `make edit-secrets "
            f"SECRETS={source}` or remove it"
        )
    values: dict[str, str] = {}
    for key, value in entries.items():
        where = f"{source}: {where_group}key '{key}'"
        if not is_env_var_name(key):
            raise SynthError(
                f"{where} is not a valid environment variable name: rename it with "
                "letters, digits and '_', not starting with a digit"
            )
        if len(key) > MAX_SECRET_KEY:
            raise SynthError(
                f"{source}: {where_group}key '{key[:40]}...' is longer than the "
                f"{MAX_SECRET_KEY} characters Kubernetes allows for a Secret key: shorten it "
                f"with `make edit-secrets SECRETS={source}`"
            )
        values[key] = _string_value(value, where, source, flat=flat)
    data_bytes = sum(len(value.encode("utf-8")) for value in values.values())
    if data_bytes > MAX_SECRET_DATA_BYTES:
        raise SynthError(
            f"{source}: group '{group}' holds {data_bytes} bytes of values, more than the "
            f"{MAX_SECRET_DATA_BYTES} bytes (1 MiB) a Kubernetes Secret may hold: move some keys "
            f"into another group with `make edit-secrets SECRETS={source}`"
        )
    return SecretGroup(name=group, keys=tuple(values), values=MappingProxyType(values))


def _string_value(value: object, where: str, source: Path, *, flat: bool) -> str:
    edit = f"`make edit-secrets SECRETS={source}`"
    if isinstance(value, bool):
        raise SynthError(
            f"{where} is a boolean, not a string: quote the value with {edit} "
            "(YAML reads yes/no/true/false unquoted as booleans)"
        )
    if isinstance(value, int | float):
        raise SynthError(f"{where} is a number, not a string: quote the value with {edit}")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SynthError(f"{where} is empty: give it a value with {edit} or remove the key")
    if isinstance(value, list):
        raise SynthError(
            f"{where} is a list: secrets are single strings; join it into one value with {edit}"
        )
    if isinstance(value, Mapping):
        deeper = "group.KEY" if not flat else "KEY"
        raise SynthError(
            f"{where} nests further than {deeper}: secrets are KEY: value pairs"
            + (" inside groups" if not flat else "")
            + f"; flatten it with {edit}"
        )
    if not isinstance(value, str):
        raise SynthError(f"{where} is not a string: quote the value with {edit}")
    uncarried = _UNCARRIED_CHARACTER.search(value)
    if uncarried is not None:
        raise SynthError(
            f"{where} contains a control character (at character {uncarried.start() + 1}) that "
            f"YAML readers such as kubectl refuse and an environment variable cannot hold: "
            f"remove it with {edit}"
        )
    return value


def _checked_master_key(
    source: Path,
    layout: Layout,
    groups: tuple[SecretGroup, ...],
    litellm_group: str,
    values_known: bool,
) -> str | None:
    group_name = SHARED_GROUP if layout is Layout.FLAT else litellm_group
    group = next((g for g in groups if g.name == group_name), None)
    where = (
        f"{source}: key '{MASTER_KEY}'"
        if layout is Layout.FLAT
        else f"{source}: group '{litellm_group}', key '{MASTER_KEY}'"
    )
    generate = 'generate one with `echo "sk-$(openssl rand -hex 32)"` and set it with'
    edit = f"`make edit-secrets SECRETS={source}`"
    if group is None or MASTER_KEY not in group.keys:
        raise SynthError(f"{where} is missing: LiteLLM needs a master key; {generate} {edit}")
    if not values_known:
        return None
    master_key = group.decrypted_values()[MASTER_KEY]
    if master_key == PUBLIC_DEFAULT_MASTER_KEY:
        raise SynthError(
            f"{where} is LiteLLM's public default key, which anyone can use: {generate} {edit}"
        )
    if _MASTER_KEY_CHARACTERS.fullmatch(master_key) is None:
        raise SynthError(
            f"{where} contains a space, a line break or another character that is not "
            f"printable ASCII (a trailing newline from an editor?): {generate} {edit}"
        )
    if not master_key.startswith("sk-"):
        raise SynthError(
            f"{where} does not start with 'sk-' as LiteLLM keys must: {generate} {edit}"
        )
    if len(master_key) - len("sk-") < MIN_MASTER_KEY_SECRET_CHARS:
        raise SynthError(
            f"{where} is too short to be safe (fewer than {MIN_MASTER_KEY_SECRET_CHARS} "
            f"characters after 'sk-'): {generate} {edit}"
        )
    return master_key
