"""What can be known about a SOPS file without decrypting it.

Key names and the ``sops:`` metadata (recipients, MAC) are plaintext in SOPS YAML; only values
are ``ENC[...]``. Reading them needs no key, so this runs first: it refuses files that are not
SOPS-encrypted or that carry a plaintext value before sops is ever started, and it gives the
recipients (to pick the demo key and to explain a key failure) and the key names.

Nothing here may quote a value of the file: a value that is not ``ENC[...]`` is plaintext.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from lib.errors import SynthError

# sops writes every encrypted scalar as ENC[AES256_GCM,data:...,iv:...,tag:...,type:...].
_ENCRYPTED_VALUE = re.compile(r"^ENC\[AES256_GCM,data:[^,\]]*,iv:[^,\]]+,tag:[^,\]]+,type:\w+\]$")


@dataclass(frozen=True)
class EncryptedFile:
    """A SOPS-encrypted YAML file, inspected without its key.

    ``key_paths`` lists every leaf as its path of key names, in file order:
    ``("litellm", "OPENAI_API_KEY")`` in the nested layout, ``("OPENAI_API_KEY",)`` in the flat one.
    """

    path: Path
    age_recipients: tuple[str, ...]
    key_paths: tuple[tuple[str, ...], ...]
    # Leaves with no value at all: sops leaves them unencrypted, the value checks refuse them.
    empty_key_paths: frozenset[tuple[str, ...]] = frozenset()


def inspect_encrypted_file(path: Path) -> EncryptedFile:
    """Read ``path`` as SOPS YAML and check that every value in it is encrypted."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SynthError(
            f"secrets file {path} does not exist: create it with `sops {path}` "
            "or pass another file with --secrets"
        ) from None
    except IsADirectoryError:
        raise SynthError(f"secrets file {path} is a directory: pass a SOPS YAML file") from None
    except UnicodeDecodeError:
        raise SynthError(f"secrets file {path} is not UTF-8 text: pass a SOPS YAML file") from None

    try:
        document = yaml.load(text, Loader=_StringKeyLoader)  # noqa: S506 - safe loader subclass
    except yaml.MarkedYAMLError as exc:
        # The parser's message quotes the offending line, which may be a plaintext value.
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise SynthError(
            f"secrets file {path} is not valid YAML (line {line}): "
            f"fix it with `sops {path}` or restore it from git"
        ) from None
    except (yaml.YAMLError, ValueError, TypeError, AttributeError, LookupError, RecursionError):
        # Besides YAMLError, PyYAML's safe constructors raise these for scalars they cannot
        # convert (`2025-02-30`, `!!int x`, `!!bool x`, an int of 5000 digits), often quoting
        # the value, and its composer runs out of stack on very deep nesting.
        raise SynthError(
            f"secrets file {path} is not valid YAML: fix it with `sops {path}` or restore it"
        ) from None

    if document is None:
        raise SynthError(
            f"secrets file {path} is empty: create it with `sops {path}` "
            "(see README, 'Secrets layout')"
        )
    if not isinstance(document, dict) or not isinstance(document.get("sops"), dict):
        raise SynthError(
            f"secrets file {path} is not SOPS-encrypted (no sops metadata): "
            f"encrypt it with `sops encrypt --in-place {path}` and never commit it in plaintext"
        )

    metadata = document.pop("sops")
    empty: set[tuple[str, ...]] = set()
    key_paths = tuple(_leaf_paths(path, document, (), empty))
    if not key_paths:
        raise SynthError(
            f"secrets file {path} holds no secrets: add them with `sops {path}` "
            "(see README, 'Secrets layout')"
        )
    return EncryptedFile(
        path=path,
        age_recipients=_age_recipients(metadata),
        key_paths=key_paths,
        empty_key_paths=frozenset(empty),
    )


def _leaf_paths(
    path: Path, node: object, prefix: tuple[str, ...], empty: set[tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """Every leaf's key path; refuses a leaf that sops did not encrypt."""
    if isinstance(node, dict):
        leaves: list[tuple[str, ...]] = []
        for key, value in node.items():
            leaves.extend(_leaf_paths(path, value, (*prefix, str(key)), empty))
        return leaves
    if isinstance(node, list):
        leaves = []
        for index, item in enumerate(node):
            leaves.extend(_leaf_paths(path, item, (*prefix, f"[{index}]"), empty))
        return leaves
    if isinstance(node, str) and _ENCRYPTED_VALUE.fullmatch(node):
        return [prefix]
    if node is None or node == "":
        # sops leaves empty values as they are; the value checks refuse them by name later.
        empty.add(prefix)
        return [prefix]
    where = ".".join(prefix) or "the top level"
    raise SynthError(
        f"{where} in {path} is stored in plaintext, not encrypted by sops: "
        f"remove it, then add it again with `sops {path}` (if .sops.yaml sets "
        "encrypted_regex or unencrypted_suffix, make it cover every key)"
    )


def _age_recipients(metadata: dict[object, object]) -> tuple[str, ...]:
    entries = metadata.get("age")
    if not isinstance(entries, list):
        return ()
    return tuple(
        str(entry["recipient"])
        for entry in entries
        if isinstance(entry, dict) and "recipient" in entry
    )


class _StringKeyLoader(yaml.SafeLoader):
    """SafeLoader that keeps scalars as text where it matters for key names.

    sops writes keys such as ``"N"`` quoted when YAML 1.1 would read them as booleans; reading
    keys as plain strings avoids ``True`` keys appearing in messages as ``True``.
    """


def _construct_key_as_string(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, object]:
    mapping: dict[str, object] = {}
    for key_node, value_node in node.value:
        # A list or map used as a key: str(node) would quote its contents, which may be values.
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "(complex key)"
        mapping[str(key)] = loader.construct_object(value_node, deep=True)
    return mapping


_StringKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_key_as_string
)


def manifest_recipients(encrypted_yaml: str) -> frozenset[str]:
    """The age recipients of SOPS-encrypted manifests (one sops block per document)."""
    recipients: set[str] = set()
    for document in yaml.safe_load_all(encrypted_yaml):
        if isinstance(document, dict) and isinstance(document.get("sops"), dict):
            recipients.update(_age_recipients(document["sops"]))
    return frozenset(recipients)
