"""What can be known about a SOPS file without decrypting it.

Key names and the ``sops:`` metadata (recipients, MAC) are plaintext in SOPS files; only values
are ``ENC[...]``. Reading them needs no key, so this runs first, in every mode: it refuses files
that are not SOPS-encrypted, damaged, hostile or that carry a plaintext or non-string value
before sops is ever started, and it gives the recipients (to pick the demo key and to explain a
key failure) and the key names.

Hostile input is bounded here, before anything expensive: only a regular file is opened, never
more than ``MAX_SECRETS_FILE_BYTES`` are read, and the YAML is walked event by event, so an
alias is refused before it could expand and nesting is cut at ``MAX_NESTING``. The bytes read
here are the bytes sops decrypts (``EncryptedFile.content``): the file is never read twice.

Nothing here may quote a value of the file: a value that is not ``ENC[...]`` is plaintext.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import yaml

from lib.errors import SynthError, printable
from lib.names import is_dns_label

# sops writes every encrypted scalar as ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]; the
# type is what sops read the plaintext as, and it is itself plaintext.
SOPS_CIPHERTEXT = re.compile(
    r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,"
    r"type:(?P<type>[a-z]+)\]"
)
_CIPHERTEXT_START = "ENC[AES256_GCM,"

# A Kubernetes Secret holds at most 1 MiB of data. sops stores each value base64-encoded (4/3)
# with about 100 bytes of iv, tag and type around it, and each group is its own Secret: 4 MiB
# leaves room for a few full groups, and anything bigger is not a secrets file (or is a
# stream such as /dev/zero) and is refused before it is read into memory.
MAX_SECRETS_FILE_BYTES = 4 * 1024 * 1024
# group.KEY plus the sops metadata (key_groups -> [n] -> age -> [n] -> recipient is the
# deepest sops writes, 6 levels). Deeper input is refused as soon as the parser reaches it.
MAX_NESTING = 16

# The kind of value sops reports in `type:`, as a user reads it.
_SOPS_TYPE_NAMES = {
    "int": "a number",
    "float": "a number",
    "bool": "a boolean",
    "time": "a date or timestamp",
    "bytes": "binary data",
}
# How the quoted value looks, per sops type, for the "quote it" advice.
_QUOTED_EXAMPLES = {"int": '"100"', "float": '"1.5"', "bool": '"true"', "time": '"2025-01-01"'}


_STANDARD_TAGS = frozenset(
    {"str", "int", "float", "bool", "null", "binary", "timestamp"}
    | {"set", "omap", "pairs", "map", "seq", "merge", "value"}
)


class FileFormat(Enum):
    """What sops is told with --input-type."""

    YAML = "yaml"
    JSON = "json"


@dataclass(frozen=True)
class EncryptedFile:
    """A SOPS-encrypted YAML or JSON file, inspected without its key.

    ``key_paths`` lists every leaf as its path of key names, in file order:
    ``("litellm", "OPENAI_API_KEY")`` in the nested layout, ``("OPENAI_API_KEY",)`` in the flat one.
    ``content`` is exactly what was inspected; sops decrypts these bytes and no others.
    """

    path: Path
    age_recipients: tuple[str, ...]
    key_paths: tuple[tuple[str, ...], ...]
    # Leaves with no value at all: sops leaves them unencrypted, the value checks refuse them.
    empty_key_paths: frozenset[tuple[str, ...]] = frozenset()
    # Empty maps and lists (``extra: {}``): no leaf, so not in ``key_paths``; the key-names
    # reader puts them back so that prod refuses them as dev does. True for a list.
    empty_collections: tuple[tuple[tuple[str, ...], bool], ...] = ()
    content: bytes = field(default=b"", repr=False)
    format: FileFormat = FileFormat.YAML


# A parsed file: maps (duplicates refused), lists, and scalars as their text; None is an empty
# or null scalar. Nothing is converted, so nothing can expand, overflow or change type.
_Tree = dict[str, "_Tree"] | list["_Tree"] | str | None


def inspect_encrypted_file(path: Path) -> EncryptedFile:
    """Read ``path`` as a SOPS file and check that every value in it is an encrypted string."""
    content = _read_bounded(path)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise SynthError(f"secrets file {path} is not UTF-8 text: pass a SOPS YAML file") from None

    file_format, document = _parse(text, path)

    if document is None:
        raise SynthError(
            f"secrets file {path} is empty: create it with `make edit-secrets SECRETS={path}` "
            "(see docs/secrets.md)"
        )
    if not isinstance(document, dict) or "sops" not in document:
        if any(
            isinstance(leaf, str) and leaf.startswith(_CIPHERTEXT_START)
            for _, leaf in _leaves(document, ())
        ):
            raise SynthError(
                f"secrets file {path} has sops-encrypted values but no sops metadata: it was "
                "truncated or damaged; restore it from git"
            )
        raise SynthError(
            f"secrets file {path} is not SOPS-encrypted (no sops metadata): "
            f"encrypt it with `.venv/bin/sops encrypt --in-place {path}` and never commit it in "
            "plaintext"
        )
    metadata = document.pop("sops")
    if not isinstance(metadata, dict) or not {"mac", "lastmodified"} <= metadata.keys():
        raise SynthError(
            f"secrets file {path} has incomplete sops metadata (no mac or lastmodified): it was "
            "truncated or damaged; restore it from git"
        )

    empty: set[tuple[str, ...]] = set()
    key_paths = []
    empty_collections = tuple(_empty_collections(document, ()))
    for key_path, _ in empty_collections:
        _refuse_unprintable(path, key_path)
    for key_path, leaf in _leaves(document, ()):
        _refuse_unprintable(path, key_path)
        _check_leaf(path, key_path, leaf)
        if leaf is None or leaf == "":
            # sops leaves empty values as they are; the value checks refuse them by name later.
            empty.add(key_path)
        key_paths.append(key_path)
    if not key_paths:
        raise SynthError(
            f"secrets file {path} holds no secrets: add them with `make edit-secrets "
            f"SECRETS={path}` "
            "(see docs/secrets.md)"
        )
    return EncryptedFile(
        path=path,
        age_recipients=_age_recipients(metadata),
        key_paths=tuple(key_paths),
        empty_key_paths=frozenset(empty),
        empty_collections=empty_collections,
        content=content,
        format=file_format,
    )


# ---------------------------------------------------------------------------------------------
# Reading: a regular file, bounded


def _read_bounded(path: Path) -> bytes:
    """The file's bytes; refuses anything but a regular file of at most the cap, before reading.

    The type is checked on the path first (so a FIFO or device is never opened), and again on
    the open descriptor (so a file swapped in between is caught). O_NONBLOCK keeps even that
    open from waiting for a FIFO writer.
    """
    try:
        _refuse_unless_regular(path, os.stat(path))
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SynthError(
            f"secrets file {path} does not exist: create it with `make edit-secrets "
            f"SECRETS={path}` "
            "or pass another file with --secrets"
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        status = os.fstat(descriptor)
        _refuse_unless_regular(path, status)
        _refuse_oversized(path, status.st_size)
        chunks = []
        total = 0
        while chunk := os.read(descriptor, 1024 * 1024):
            total += len(chunk)
            _refuse_oversized(path, total)  # it grew while being read
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    finally:
        os.close(descriptor)


def _refuse_unless_regular(path: Path, status: os.stat_result) -> None:
    if stat.S_ISREG(status.st_mode):
        return
    if stat.S_ISDIR(status.st_mode):
        raise SynthError(f"secrets file {path} is a directory: pass a SOPS YAML file")
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(status.st_mode)
        else "a character device"
        if stat.S_ISCHR(status.st_mode)
        else "a block device"
        if stat.S_ISBLK(status.st_mode)
        else "a socket"
        if stat.S_ISSOCK(status.st_mode)
        else "not a regular file"
    )
    raise SynthError(
        f"secrets file {path} is {kind}, not a regular file: pass a SOPS YAML file with --secrets"
    )


def _refuse_oversized(path: Path, size: int) -> None:
    if size > MAX_SECRETS_FILE_BYTES:
        raise SynthError(
            f"secrets file {path} is larger than {MAX_SECRETS_FILE_BYTES // (1024 * 1024)} MiB, "
            "the most a secrets file may be (a Kubernetes Secret holds at most 1 MiB): "
            "pass the right file with --secrets"
        )


def _unreadable(path: Path, error: OSError) -> SynthError:
    return SynthError(
        f"secrets file {path} cannot be read ({error.strerror}): check the path and its "
        "permissions, or pass another file with --secrets"
    )


# ---------------------------------------------------------------------------------------------
# Parsing: YAML event by event, JSON with duplicate and depth checks


def _parse(text: str, path: Path) -> tuple[FileFormat, _Tree]:
    """sops writes JSON files as one object and YAML files in block style, so text that starts
    with "{" is read as JSON first; if it is not JSON it may still be (flow-style) YAML, and
    the JSON error is the one reported when it is neither."""
    if not text.lstrip().startswith("{"):
        return FileFormat.YAML, _parse_yaml(text, path)
    try:
        return FileFormat.JSON, _parse_json(text, path)
    except _NotJsonError as not_json:
        try:
            return FileFormat.YAML, _parse_yaml(text, path)
        except SynthError:
            raise not_json.error from None


@dataclass
class _Open:
    """A map or list the parser is inside of; in a map, the key whose value comes next."""

    collection: dict[str, _Tree] | list[_Tree]
    key: str | None = None

    def expects_key(self) -> bool:
        return isinstance(self.collection, dict) and self.key is None

    def add(self, node: _Tree) -> None:
        if isinstance(self.collection, list):
            self.collection.append(node)
        elif self.key is not None:
            self.collection[self.key] = node
            self.key = None


def _parse_yaml(text: str, path: Path) -> _Tree:
    """The document as a tree, built from parser events so nothing is ever expanded.

    Anchors, aliases, merge keys and tags are refused where the parser meets them: sops never
    writes them, an alias chain can grow without bound once expanded, and a tag (``!!binary``,
    ``!!timestamp``) changes what a value means.

    libyaml's scanner reads up to a line ahead of the events it has handed out, and refuses on
    its own what it finds there: PyYAML 6.0.4's libyaml stops at 1000 levels of flow nesting,
    before the walk has seen the 17th. So when libyaml refuses the text, the walk runs again
    on PyYAML's pure-Python parser, which yields the same events: a refusal of ours that comes
    first in the file is the one reported, whichever YAML library is installed. That second
    walk only runs for a file that is refused anyway (at most ~2 s for a 4 MiB file).
    """
    try:
        return _walk_yaml_events(text, path, _SafeLoader)
    except yaml.YAMLError as exc:
        if _SafeLoader is not yaml.SafeLoader:
            with suppress(yaml.YAMLError):
                _walk_yaml_events(text, path, yaml.SafeLoader)
        raise _not_valid_yaml(exc, path) from None


def _not_valid_yaml(exc: yaml.YAMLError, path: Path) -> SynthError:
    # The parser's message quotes the offending line, which may be a plaintext value.
    if isinstance(exc, yaml.MarkedYAMLError):
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        return SynthError(
            f"secrets file {path} is not valid YAML (line {line}): "
            f"fix it with `make edit-secrets SECRETS={path}` or restore it from git"
        )
    return SynthError(
        f"secrets file {path} is not valid YAML: fix it with `make edit-secrets SECRETS={path}` or "
        "restore it"
    )


def _walk_yaml_events(text: str, path: Path, loader: type[yaml.SafeLoader]) -> _Tree:
    """The tree of ``text`` from ``loader``'s events, or the first refusal of ours among them
    (a ``SynthError``), or the parser's own error (a ``yaml.YAMLError``)."""
    stack: list[_Open] = []
    document: _Tree = None
    documents = 0

    def finish(node: _Tree) -> None:
        nonlocal document
        if stack:
            stack[-1].add(node)
        else:
            document = node

    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise SynthError(
                    f"secrets file {path} holds more than one YAML document (line "
                    f"{_line(event)}): a sops file is one document; restore it from git"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            finish(stack.pop().collection)
        elif isinstance(event, yaml.NodeEvent):
            _refuse_node_markup(event, path)
            if stack and stack[-1].expects_key():
                stack[-1].key = _key(event, path, stack)
            elif isinstance(event, yaml.ScalarEvent):
                finish(_scalar(event))
            elif len(stack) >= MAX_NESTING:
                raise SynthError(
                    f"secrets file {path} nests deeper than {MAX_NESTING} levels (line "
                    f"{_line(event)}): secrets are group.KEY pairs; restore it from git"
                )
            else:
                stack.append(_Open({} if isinstance(event, yaml.MappingStartEvent) else []))
    return document


def _refuse_node_markup(event: yaml.NodeEvent, path: Path) -> None:
    where = f"secrets file {path} uses"
    rule = "sops files never hold them; restore it from git or re-create it with `sops`"
    if isinstance(event, yaml.AliasEvent):
        raise SynthError(f"{where} a YAML alias (line {_line(event)}): {rule}")
    if event.anchor is not None:
        raise SynthError(f"{where} a YAML anchor (line {_line(event)}): {rule}")
    tag = getattr(event, "tag", None)
    if tag is not None:
        # Only a standard tag is named: any other tag is text from the file, shown nowhere.
        standard = tag.removeprefix("tag:yaml.org,2002:")
        shown = f"!!{standard} " if standard in _STANDARD_TAGS else ""
        raise SynthError(
            f"{where} a YAML tag {shown}(line {_line(event)}): values in a secrets file are "
            "plain strings; remove the tag and quote the value with `make edit-secrets "
            f"SECRETS={path}`"
        )


def _key(event: yaml.NodeEvent, path: Path, stack: list[_Open]) -> str:
    parent = ".".join(
        frame.key if frame.key is not None else f"[{len(frame.collection)}]" for frame in stack[:-1]
    )
    if not isinstance(event, yaml.ScalarEvent):
        raise SynthError(
            f"secrets file {path} has a list or map as a key{' in ' + parent if parent else ''} "
            f"(line {_line(event)}): keys are names; restore it from git"
        )
    if event.value == "<<" and _plain(event):
        raise SynthError(
            f"secrets file {path} uses a YAML merge key '<<' (line {_line(event)}): sops files "
            "never hold them; restore it from git or re-create it with `sops`"
        )
    if event.value in stack[-1].collection:
        name = ".".join(filter(None, (parent, event.value)))
        raise SynthError(
            f"secrets file {path} defines {name} twice (line {_line(event)}): sops refuses "
            f"duplicate keys; keep one with `make edit-secrets SECRETS={path}`"
        )
    return event.value


def _scalar(event: yaml.ScalarEvent) -> str | None:
    """The text of a scalar; None for an empty or null plain scalar (YAML 1.1 and 1.2 alike)."""
    if _plain(event) and event.value in ("", "~", "null", "Null", "NULL"):
        return None
    return event.value


def _plain(event: yaml.ScalarEvent) -> bool:
    # PyYAML's parser gives a plain scalar the style None, libyaml's the style "".
    return not event.style


def _line(event: yaml.Event) -> int | str:
    return event.start_mark.line + 1 if event.start_mark else "?"


class _NotJsonError(Exception):
    """Not JSON: the text is tried as YAML before ``error`` is reported."""

    def __init__(self, error: SynthError) -> None:
        super().__init__(str(error))
        self.error = error


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _parse_json(text: str, path: Path) -> _Tree:
    """A sops JSON file, with the same rules as YAML: no duplicate keys, bounded nesting."""

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        mapping: dict[str, object] = {}
        for key, value in pairs:
            if key in mapping:
                raise _DuplicateKeyError(key)
            mapping[key] = value
        return mapping

    try:
        loaded = json.loads(text, object_pairs_hook=unique)
    except _DuplicateKeyError as exc:
        raise SynthError(
            f"secrets file {path} defines key '{exc.key}' twice in one map: sops refuses "
            f"duplicate keys; keep one with `make edit-secrets SECRETS={path}`"
        ) from None
    except RecursionError:
        raise _too_deep(path) from None
    except ValueError as exc:
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else "?"
        raise _NotJsonError(
            SynthError(
                f"secrets file {path} is not valid JSON (line {line}): "
                f"fix it with `make edit-secrets SECRETS={path}` or restore it from git"
            )
        ) from None
    return _json_tree(loaded, path, 0)


def _json_tree(node: object, path: Path, depth: int) -> _Tree:
    if isinstance(node, dict | list) and depth >= MAX_NESTING:
        raise _too_deep(path)
    if isinstance(node, dict):
        return {key: _json_tree(value, path, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [_json_tree(item, path, depth + 1) for item in node]
    if node is None or isinstance(node, str):
        return node
    # A number or boolean: never a sops value. Kept as its JSON text, refused as plaintext.
    return json.dumps(node)


def _too_deep(path: Path) -> SynthError:
    return SynthError(
        f"secrets file {path} nests deeper than {MAX_NESTING} levels: secrets are group.KEY "
        "pairs; restore it from git"
    )


# ---------------------------------------------------------------------------------------------
# Checking the leaves


def _leaves(node: _Tree, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str | None]]:
    """Every leaf with its key path, in file order (depth is bounded by the parser)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*prefix, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _leaves(item, (*prefix, f"[{index}]"))
    else:
        yield prefix, node


def _empty_collections(
    node: _Tree, prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], bool]]:
    """Every empty map or list below the top, with its key path and whether it is a list."""
    children = (
        node.items()
        if isinstance(node, dict)
        else ((f"[{index}]", item) for index, item in enumerate(node))
        if isinstance(node, list)
        else ()
    )
    for key, value in children:
        if isinstance(value, dict | list) and not value:
            yield (*prefix, key), isinstance(value, list)
        else:
            yield from _empty_collections(value, (*prefix, key))


def _refuse_unprintable(path: Path, key_path: tuple[str, ...]) -> None:
    """A key or group name with a control or format character (an ESC, a bidi override) is
    refused before any message quotes it: it would act on the terminal or CI log showing it."""
    for name in key_path:
        if printable(name) != name:
            raise SynthError(
                f"the key name '{printable(name)}' in {path} holds a control or invisible "
                "character: rename it with letters, digits and '_' using `make edit-secrets "
                f"SECRETS={path}`"
            )


def _check_leaf(path: Path, key_path: tuple[str, ...], leaf: str | None) -> None:
    """Refuses a leaf that sops did not encrypt, or encrypted as something else than a string."""
    if not leaf:
        return
    where = ".".join(key_path) or "the top level"
    match = SOPS_CIPHERTEXT.fullmatch(leaf)
    if match is None and leaf.startswith(_CIPHERTEXT_START):
        raise SynthError(
            f"{where} in {path} is a damaged sops value (cut short or edited by hand): "
            "restore the file from git"
        )
    if match is None:
        raise SynthError(
            f"{where} in {path} is stored in plaintext, not encrypted by sops: "
            f"remove it, then add it again with `make edit-secrets SECRETS={path}` (if .sops.yaml "
            "sets "
            "encrypted_regex or unencrypted_suffix, make it cover every key)"
        )
    kind = match.group("type")
    if kind != "str":
        what = _SOPS_TYPE_NAMES.get(kind, f"type '{kind}'")
        example = _QUOTED_EXAMPLES.get(kind, '"..."')
        raise SynthError(
            f"{where} in {path} was encrypted as {what}, not a string (sops reads an unquoted "
            f"value by its look): quote the value with `make edit-secrets SECRETS={path}`, "
            f"e.g. KEY: {example}, so it reaches the Secret "
            "exactly as written"
        )


def _age_recipients(metadata: dict[str, _Tree]) -> tuple[str, ...]:
    entries = metadata.get("age")
    if not isinstance(entries, list):
        return ()
    return tuple(
        str(entry["recipient"])
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("recipient"), str)
    )


# libyaml's parser when PyYAML was built with it: the same events, much faster on big input.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def manifest_recipients(encrypted_yaml: str) -> frozenset[str]:
    """The age recipients of SOPS-encrypted manifests (one sops block per document)."""
    recipients: set[str] = set()
    for document in yaml.safe_load_all(encrypted_yaml):
        if isinstance(document, dict) and isinstance(document.get("sops"), dict):
            recipients.update(_age_recipients(document["sops"]))
    return frozenset(recipients)


def refuse_unencrypted_secret_data(encrypted_yaml: str, name: str) -> None:
    """Fail closed on what sops returned: every ``data``/``stringData`` value of every Secret
    must be sops ciphertext. A creation rule whose ``encrypted_regex`` or
    ``unencrypted_suffix`` misses them makes sops pass the values through in plaintext, into a
    file that looks safe to commit. Names the Secret and key, never the value."""
    for document in yaml.safe_load_all(encrypted_yaml):
        if not isinstance(document, dict) or document.get("kind") != "Secret":
            continue
        named = (document.get("metadata") or {}).get("name")
        secret = named if isinstance(named, str) and is_dns_label(named) else "?"
        for section in ("data", "stringData"):
            for key, value in (document.get(section) or {}).items():
                if not (isinstance(value, str) and SOPS_CIPHERTEXT.fullmatch(value)):
                    raise SynthError(
                        f"{name}: sops left Secret '{secret}' {section}.{key} unencrypted, so "
                        "the file would hold a plaintext secret: make the creation rule for "
                        f"{name} in .sops.yaml encrypt ^(data|stringData)$ (encrypted_regex) "
                        "and set no unencrypted_suffix"
                    )
