"""The files of dist/: manifests rendered as YAML, checked for leftover ciphertext.

Writing them into the output directory is lib/outdir/'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from lib.errors import SynthError
from lib.secrets.encrypted_file import SOPS_CIPHERTEXT

# Files that hold secret values are readable by their owner only.
PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


@dataclass(frozen=True)
class ManifestFile:
    """One file of dist/: its name, its objects in apply order, whether it holds plaintext
    secrets (written 0600) and whether it is to be written SOPS-encrypted."""

    name: str
    objects: Sequence[Mapping[str, object]] = field(repr=False)  # Secrets hold values
    private: bool = False
    sops_encrypt: bool = False


@dataclass(frozen=True)
class RenderedFile:
    name: str
    text: str = field(repr=False)
    private: bool = False


def render(objects: Sequence[Mapping[str, object]]) -> str:
    """Objects as multi-document YAML, keys in the order the constructs emit them."""
    return yaml.dump_all(
        objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def refuse_ciphertext(name: str, text: str) -> None:
    """Fail closed: a sops ``ENC[AES256_GCM,...]`` token in a manifest means a value was never
    decrypted (a file edited or half-encrypted) and the cluster would receive ciphertext as the
    secret. The whole token is matched: a value that merely contains ``ENC[`` is a value."""
    found = SOPS_CIPHERTEXT.search(text)
    if found is not None:
        line = text[: found.start()].count("\n") + 1
        raise SynthError(
            f"{name} would contain sops ciphertext (ENC[...]) at line {line}: a secret value was "
            "not decrypted; re-create it with `sops` so the file decrypts cleanly"
        )


# libyaml's emitter when PyYAML was built with it: same bytes, a fraction of the time per object.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Multi-line values (PEM blocks) as literal blocks, so they stay readable and exact; strings
    any YAML reader could take for something else quoted."""


# PyYAML quotes what its own YAML 1.1 resolver would read as another type. kubectl and
# kustomize read with go-yaml: v2 is YAML 1.1 with y/n booleans; v3 is YAML 1.2, where 0o17, 1e3
# and .inf are numbers, and both drop "_" from numbers and hand them to Go's parser (0b1, 0x1p3).
# These patterns cover every such form broadly (anything number-, date- or keyword-like); a
# string that matches is quoted, which never changes it, and everything else stays plain.
_NUMBER_LIKE = re.compile(
    r"[-+]?[0-9.:]+(e[-+]?[0-9]*)?"  # decimal, float, exponent, sexagesimal
    r"|[-+]?0[xob][0-9a-f.p+-]*"  # hex, octal, binary, hex float
    r"|[-+]?\.?(inf|infinity|nan)"
)
_DATE_LIKE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")  # go-yaml reads dates by prefix
_SPECIAL_WORDS = frozenset({"true", "false", "yes", "no", "y", "n", "on", "off", "null", "~"})
_SPECIAL_MARKS = frozenset({"", "=", "<<"})  # YAML 1.1's value and merge keys, and empty


def _needs_quotes(value: str) -> bool:
    folded = value.replace("_", "").lower()
    return (
        value in _SPECIAL_MARKS
        or folded in _SPECIAL_WORDS
        or _NUMBER_LIKE.fullmatch(folded) is not None
        or _DATE_LIKE.match(value) is not None
    )


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _needs_quotes(value):
        # Single quotes where they can hold the value; the emitter falls back to double quotes.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)
