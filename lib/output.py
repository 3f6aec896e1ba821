"""The files of dist/: manifests rendered as YAML, checked for leftover ciphertext.

Writing them into the output directory is lib/outdir/'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from lib.errors import SynthError

_CIPHERTEXT = "ENC["
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
    """Fail closed: ``ENC[`` in a manifest means a value was never decrypted (a file edited or
    half-encrypted) and the cluster would receive ciphertext as the secret."""
    if _CIPHERTEXT in text:
        line = text[: text.index(_CIPHERTEXT)].count("\n") + 1
        raise SynthError(
            f"{name} would contain sops ciphertext (ENC[...]) at line {line}: a secret value was "
            "not decrypted; re-create it with `sops` so the file decrypts cleanly"
        )


# libyaml's emitter when PyYAML was built with it: same bytes, a fraction of the time per object.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Multi-line values (PEM blocks) as literal blocks, so they stay readable and exact."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)
