"""Property-based tests: loading and validating secrets never fails other than with SynthError,
and no SynthError message ever quotes a value.

Two entry points take user input: ``parse_secrets`` (the document sops decrypted, JSON-shaped)
and ``inspect_encrypted_file`` (the file as written, any text). Generated values carry the
marker ``val-`` and generated key names never do, so a value found in a message is a leak and
not a key name that happens to look like one.

The settings live here, not in a profile: every test states its own budget, so the file runs in
a few seconds whatever profile is loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import cast

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from lib.errors import SynthError, printable
from lib.secrets.encrypted_file import (
    MAX_NESTING,
    SOPS_CIPHERTEXT,
    EncryptedFile,
    inspect_encrypted_file,
)
from lib.secrets.model import (
    MASTER_KEY,
    SHARED_GROUP,
    Layout,
    SecretsDocument,
    parse_key_names,
    parse_secrets,
)
from lib.secrets.sops import parse_decrypted
from tests.helpers import cpu_seconds_at_most

SOURCE = Path("secrets/secrets.yaml")
MARKER = "val-"


def budget(max_examples: int) -> settings:
    """Explicit settings, so no loaded profile changes the run time (a few seconds in all).

    deadline=None: the first examples import and warm up PyYAML and the regex engine.
    """
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


# ---------------------------------------------------------------------------------------------
# Strategies


def _is_key_safe(key: str) -> bool:
    # Key names are quoted in messages by design; they must never contain a value or the marker.
    return MARKER not in key and "sk-" not in key and "ENC[" not in key


WEIRD_KEYS = st.sampled_from(
    [
        "",
        " ",
        "  KEY",
        "KEY ",
        "KEY WITH SPACE",
        "1KEY",
        "0",
        "123",
        "-",
        "a-b",
        "KÉY",
        "ключ",
        "日本",
        "🔑",
        "KEY\n",
        "\nKEY",
        "K\tEY",
        "KEY.SUB",
        "[0]",
        "sops",
        "true",
        "null",
        "~",
        "<<",
        "?",
        "#",
        "'",
        '"',
    ]
)
ENV_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
GROUP_NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True).filter(
    _is_key_safe
)
KEYS = st.one_of(WEIRD_KEYS, ENV_NAMES, GROUP_NAMES, st.text(max_size=12)).filter(_is_key_safe)

# Values: arbitrary unicode (multi-line included) behind the marker, without the control
# characters and non-characters the model refuses (test_model pins that refusal).
CARRIED_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Cn"), include_characters="\t\n\r")
)
VALUES = CARRIED_TEXT.map(lambda text: MARKER + text)
BLANKS = st.sampled_from(["", " ", "   ", "\n", "\t \n"])
SCALARS = st.one_of(
    VALUES,
    BLANKS,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)


def trees(leaves: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """YAML-shaped data: maps with text keys and lists, several levels deep."""
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(KEYS, children, max_size=4),
        ),
        max_leaves=20,
    )


TREES = trees(SCALARS)
DOCUMENTS = st.dictionaries(KEYS, TREES, max_size=5)

MASTER_KEYS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=17
).map(lambda text: f"sk-{MARKER}{text}")
NOT_STRINGS = st.one_of(st.integers(), st.floats(), st.booleans(), st.none())
WEAK_MASTER_KEYS = st.one_of(
    st.just("sk-1234"),
    st.text(max_size=15).map(lambda text: f"sk-{MARKER}{text}"),  # too short after "sk-"
    VALUES,  # no "sk-" prefix
    NOT_STRINGS,
    BLANKS,
)
# Non-string, blank or nested: never a valid value; BAD_SCALARS are not maps either.
BAD_SCALARS = st.one_of(NOT_STRINGS, BLANKS, st.lists(TREES, max_size=3))
BAD_LEAVES = st.one_of(BAD_SCALARS, st.dictionaries(KEYS, TREES, max_size=3))
# "\n" ends a name that once passed: the name patterns used re.match and `$`, not fullmatch.
_BAD_NAME_CHARS = [" ", ".", ":", "/", "é", "日", "\t", "$", "🔑", "\n"]
BAD_ENV_NAMES = st.one_of(
    st.just(""),
    st.tuples(st.sampled_from("0123456789"), st.from_regex(r"[A-Za-z0-9_]*", fullmatch=True)).map(
        "".join
    ),
    st.tuples(
        ENV_NAMES,
        st.sampled_from(["-", *_BAD_NAME_CHARS]),
        st.from_regex(r"[A-Za-z0-9_]*", fullmatch=True),
    ).map("".join),
).filter(_is_key_safe)
BAD_GROUP_NAMES = st.one_of(
    st.sampled_from(["", "-a", "a-", "My_Service", "UPPER", "a.b", "a b", "ünï", "a" * 56]),
    st.tuples(GROUP_NAMES, st.sampled_from(["_", "A", *_BAD_NAME_CHARS]), GROUP_NAMES).map("".join),
).filter(_is_key_safe)


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, object]:
    """A document parse_secrets accepts: nested (with a litellm group) or flat."""
    master = draw(MASTER_KEYS)
    if draw(st.booleans()):
        flat: dict[str, object] = draw(st.dictionaries(ENV_NAMES, VALUES, max_size=5))
        flat[MASTER_KEY] = master
        return dict(draw(st.permutations(list(flat.items()))))
    litellm: dict[str, object] = draw(st.dictionaries(ENV_NAMES, VALUES, max_size=4))
    litellm[MASTER_KEY] = master
    groups: dict[str, object] = {
        name: dict(values)
        for name, values in draw(
            st.dictionaries(
                GROUP_NAMES, st.dictionaries(ENV_NAMES, VALUES, min_size=1, max_size=4), max_size=3
            )
        ).items()
    }
    groups["litellm"] = litellm
    return dict(draw(st.permutations(list(groups.items()))))


@st.composite
def documents_with_one_mistake(draw: st.DrawFn) -> dict[str, object]:
    """A valid document with exactly one thing wrong, often deep inside a group."""
    document = draw(valid_documents())
    nested = all(isinstance(value, dict) for value in document.values())
    groups = [name for name, value in document.items() if isinstance(value, dict)]
    mistake = draw(
        st.sampled_from(
            ["bad value", "bad key", "weak master key", "no master key", "stray scalar"]
            + (["bad group name", "empty group", "group not a map"] if nested else [])
        )
    )
    # In the flat layout the document itself is the one group.
    target: dict[str, object] = (
        document if not nested else document[draw(st.sampled_from(groups))]  # type: ignore[assignment]
    )
    if mistake == "bad value":
        target[draw(st.sampled_from(sorted(target)))] = draw(BAD_LEAVES)
    elif mistake == "bad key":
        target[draw(BAD_ENV_NAMES)] = draw(VALUES)
    elif mistake == "weak master key":
        litellm = document if not nested else document["litellm"]
        litellm[MASTER_KEY] = draw(WEAK_MASTER_KEYS)  # type: ignore[index]
    elif mistake == "no master key":
        litellm = document if not nested else document["litellm"]
        del litellm[MASTER_KEY]  # type: ignore[attr-defined]
    elif mistake == "stray scalar":
        # Nested: mixes layouts; flat: a non-string value at the top level.
        document[draw(ENV_NAMES.filter(lambda name: name not in document))] = draw(BAD_SCALARS)
    elif mistake == "bad group name":
        document[draw(BAD_GROUP_NAMES)] = draw(
            st.dictionaries(ENV_NAMES, VALUES, min_size=1, max_size=3)
        )
    elif mistake == "empty group":
        document[draw(GROUP_NAMES.filter(lambda name: name not in document))] = {}
    else:  # "group not a map"
        document[draw(st.sampled_from(groups))] = draw(st.one_of(VALUES, BAD_SCALARS))
    event(f"mistake: {mistake}")
    return document


# ---------------------------------------------------------------------------------------------
# Helpers


def value_leaves(node: object) -> Iterator[str]:
    """Every string in value position (never a key), as text a message must not contain."""
    if isinstance(node, Mapping):
        for value in node.values():
            yield from value_leaves(value)
    elif isinstance(node, list):
        for item in node:
            yield from value_leaves(item)
    elif isinstance(node, str) and len(node) >= 4 and node.strip():
        yield node


def assert_no_value_in(message: str, document: object) -> None:
    for value in value_leaves(document):
        assert value not in message, f"a value leaked into the message: {message!r}"


def parse(document: Mapping[str, object]) -> SecretsDocument | SynthError:
    try:
        return parse_secrets(document, SOURCE, "litellm")
    except SynthError as error:
        return error


def assert_round_trip(parsed: SecretsDocument, document: Mapping[str, object]) -> None:
    """Every group holds exactly the input's keys and values, in file order."""
    if parsed.layout is Layout.FLAT:
        assert [group.name for group in parsed.groups] == [SHARED_GROUP]
        expected: list[Mapping[str, object]] = [document]
    else:
        assert [group.name for group in parsed.groups] == list(document)
        expected = [cast(Mapping[str, object], document[group.name]) for group in parsed.groups]
    for group, entries in zip(parsed.groups, expected, strict=True):
        assert group.values is not None
        assert list(group.values.items()) == list(entries.items())


# ---------------------------------------------------------------------------------------------
# parse_secrets


@budget(100)
@given(DOCUMENTS)
def test_parse_arbitrary_document_fails_only_with_synth_error_and_never_quotes_a_value(
    document: dict[str, object],
) -> None:
    result = parse(document)
    if isinstance(result, SynthError):
        assert_no_value_in(str(result), document)
    else:
        assert_round_trip(result, document)


@budget(100)
@given(documents_with_one_mistake())
def test_parse_document_with_one_mistake_is_refused_without_quoting_a_value(
    document: dict[str, object],
) -> None:
    result = parse(document)
    assert isinstance(result, SynthError), "a document with a mistake was accepted"
    assert str(result).startswith(str(SOURCE))
    assert_no_value_in(str(result), document)


@budget(100)
@given(valid_documents())
def test_parse_valid_document_keeps_every_value_byte_for_byte(
    document: dict[str, object],
) -> None:
    result = parse(document)
    assert isinstance(result, SecretsDocument), str(result)
    assert_round_trip(result, document)
    assert not any(value in repr(result) for value in value_leaves(document))


# `$` also matches before a final newline: with re.match these names once passed validation and
# reached the manifests as a Secret named "group\n-secrets" and a data key "KEY\n".
@pytest.mark.parametrize(
    "document",
    [
        {MASTER_KEY: f"sk-{MARKER}{'0' * 20}", "KEY\n": "val-x"},
        {"litellm": {MASTER_KEY: f"sk-{MARKER}{'0' * 20}"}, "group\n": {"KEY": "val-x"}},
    ],
    ids=["key", "group"],
)
def test_parse_name_ending_in_newline_is_refused(document: dict[str, object]) -> None:
    assert isinstance(parse(document), SynthError)


# ---------------------------------------------------------------------------------------------
# inspect_encrypted_file

_B64 = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=24
)
ENCRYPTED = st.builds(
    lambda data, iv, tag, kind: f"ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:{kind}]",
    _B64,
    _B64.filter(bool),
    _B64.filter(bool),
    st.sampled_from(["str", "int", "float", "bool", "bytes"]),
)
# NaN would make the YAML round trip below unequal to itself.
PLAIN_LEAVES = st.one_of(
    VALUES, BLANKS, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()
)
SOPS_METADATA = st.one_of(
    st.fixed_dictionaries(
        {
            "age": st.lists(
                st.fixed_dictionaries(
                    {"recipient": st.from_regex(r"age1[a-z0-9]{10}", fullmatch=True)}
                ),
                max_size=2,
            ),
            "lastmodified": st.just("2025-01-01T00:00:00Z"),
            "mac": ENCRYPTED,
            "version": st.just("3.9.0"),
        }
    ),
    st.dictionaries(KEYS, trees(PLAIN_LEAVES), max_size=3),
)


@st.composite
def sops_like_documents(draw: st.DrawFn) -> dict[str, object]:
    """A document as sops would write it, some leaves possibly left in plaintext."""
    leaves = draw(st.sampled_from([ENCRYPTED, st.one_of(ENCRYPTED, PLAIN_LEAVES)]))
    document: dict[str, object] = draw(
        st.dictionaries(KEYS.filter(lambda key: key != "sops"), trees(leaves), max_size=4)
    )
    presence = draw(st.sampled_from(["metadata", "metadata", "metadata", "none", "not a map"]))
    if presence == "metadata":
        document["sops"] = draw(SOPS_METADATA)
    elif presence == "not a map":
        document["sops"] = draw(PLAIN_LEAVES)
    return dict(draw(st.permutations(list(document.items()))))


def leaf_paths(node: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every leaf's path, as EncryptedFile.key_paths lists them."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaf_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from leaf_paths(item, (*prefix, f"[{index}]"))
    else:
        yield prefix


def _key_names(node: object) -> Iterator[str]:
    """Every map key at any depth, empty collections' keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _key_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _key_names(item)


def leaves(node: object) -> Iterator[object]:
    if isinstance(node, dict):
        for value in node.values():
            yield from leaves(value)
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item)
    else:
        yield node


def _passes_inspection(leaf: object) -> bool:
    """An encrypted string, or empty: sops leaves empty values as they are; the value checks
    refuse them. A value sops encrypted as another type (type:int, type:time) is refused."""
    if isinstance(leaf, str):
        match = SOPS_CIPHERTEXT.fullmatch(leaf)
        return leaf == "" or (match is not None and match.group("type") == "str")
    return leaf is None


DUMP_OPTIONS = st.fixed_dictionaries(
    {
        "default_flow_style": st.sampled_from([False, None, True]),
        "allow_unicode": st.booleans(),
        "width": st.sampled_from([20, 80, 1000]),
        "indent": st.sampled_from([2, 4]),
        "sort_keys": st.just(False),
    }
)


@pytest.fixture(scope="module")
def secrets_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file, rewritten by every example (function-scoped tmp_path is not reset per example)."""
    return tmp_path_factory.mktemp("properties") / "secrets.yaml"


def inspect(path: Path, content: bytes) -> EncryptedFile | SynthError:
    path.write_bytes(content)
    try:
        return inspect_encrypted_file(path)
    except SynthError as error:
        return error


def _loads_back(text: str, document: dict[str, object]) -> bool:
    try:
        return bool(yaml.safe_load(text) == document)
    except yaml.YAMLError:
        return False


@budget(60)
@given(sops_like_documents(), DUMP_OPTIONS)
def test_inspect_yaml_fails_only_with_synth_error_and_never_quotes_a_value(
    secrets_file: Path, document: dict[str, object], options: dict[str, object]
) -> None:
    text = yaml.safe_dump(document, **options)  # type: ignore[call-overload]
    result = inspect(secrets_file, text.encode("utf-8"))
    if isinstance(result, SynthError):
        assert_no_value_in(str(result), document)

    # What to expect, when PyYAML reads back exactly what it wrote (it does not always).
    if not _loads_back(text, document):
        event("PyYAML round trip not exact")
        return
    if "&id" in text:  # PyYAML wrote an anchor for an object it saw twice: refused
        event("anchor written")
        assert isinstance(result, SynthError)
        return
    secrets = {key: value for key, value in document.items() if key != "sops"}
    paths = tuple(leaf_paths(secrets))
    metadata = document.get("sops")
    acceptable = (
        isinstance(metadata, dict)
        and {"mac", "lastmodified"} <= metadata.keys()
        and bool(paths)
        and all(_passes_inspection(leaf) for leaf in leaves(secrets))
        # Key names with control or format characters are refused (they reach error lines).
        and all(printable(name) == name for name in _key_names(secrets))
    )
    event(f"accepted: {acceptable}")
    if acceptable:
        assert isinstance(result, EncryptedFile), str(result)
        assert result.key_paths == paths
    else:
        assert isinstance(result, SynthError)


# Garbage: random text and random YAML-ish fragments, including constructs PyYAML's safe
# constructors cannot convert (invalid dates, explicit tags on wrong scalars, huge integers),
# anchors and aliases, complex keys and deep nesting.
FRAGMENTS = st.sampled_from(
    [
        "sops:",
        "sops: {}\n",
        "sops:\n  age:\n    - recipient: age1demo\n  mac: x\n",
        "\n",
        "\n  ",
        "\n    ",
        "\n- ",
        ": ",
        ":",
        "- ",
        "? ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "'",
        '"',
        "#",
        "|\n  ",
        ">\n  ",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "<<: ",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "!!int ",
        "!!float ",
        "!!bool ",
        "!!timestamp ",
        "!!binary ",
        "!!set ",
        "!!omap ",
        "!!null ",
        "!!str ",
        "!!python/name:os.system ",
        "!custom ",
        "2025-02-30",
        "2025-13-01",
        "2001-12-14t21:59:43.10-05:00",
        "1" * 5000,
        "0x",
        "0o9",
        "1:2:3",
        ".inf",
        "~",
        "yes",
        "\t",
        "\ufeff",
        "\x00",
        "\x85",
        "\u2028",
        "ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str]",
        "KEY",
        "litellm",
        "? [",
        "[KEY]: ",
        # Deep enough for PyYAML's recursive composer to run out of stack.
        "[" * 500 + "]" * 500,
    ]
)
TOKENS = st.one_of(VALUES.map(lambda value: value[:12]), ENV_NAMES)
GARBAGE = st.one_of(
    st.text(),
    st.lists(st.one_of(FRAGMENTS, TOKENS, st.text(max_size=4)), max_size=40).map("".join),
)


def _path_message(path: Path) -> list[str]:
    """Every message inspect_encrypted_file can give for ``path`` that names no key."""
    p = re.escape(str(path))
    restore = r"restore it from git"
    line = r"\(line (\d+|\?)\)"
    return [
        rf"secrets file {p} is not valid YAML {line}: fix it with `make edit-secrets SECRETS={p}` "
        rf"or {restore}",
        rf"secrets file {p} is not valid YAML: fix it with `make edit-secrets SECRETS={p}` or "
        r"restore it",
        rf"secrets file {p} is not valid JSON {line}: fix it with `make edit-secrets SECRETS={p}` "
        rf"or {restore}",
        rf"secrets file {p} is not UTF-8 text: pass a SOPS YAML file",
        rf"secrets file {p} is empty: create it with `make edit-secrets SECRETS={p}` "
        r"\(see docs/secrets\.md\)",
        rf"secrets file {p} is not SOPS-encrypted \(no sops metadata\): "
        rf"encrypt it with `\.venv/bin/sops encrypt --in-place {p}` and never commit it in "
        r"plaintext",
        rf"secrets file {p} has sops-encrypted values but no sops metadata: it was truncated "
        rf"or damaged; {restore}",
        rf"secrets file {p} has incomplete sops metadata \(no mac or lastmodified\): it was "
        rf"truncated or damaged; {restore}",
        rf"secrets file {p} holds no secrets: add them with `make edit-secrets SECRETS={p}` "
        r"\(see docs/secrets\.md\)",
        rf"secrets file {p} holds more than one YAML document {line}: a sops file is one "
        rf"document; {restore}",
        rf"secrets file {p} uses a YAML (alias|anchor) {line}: sops files never hold them; "
        rf"{restore} or re-create it with `sops`",
        rf"secrets file {p} uses a YAML merge key '<<' {line}: sops files never hold them; "
        rf"{restore} or re-create it with `sops`",
        rf"secrets file {p} uses a YAML tag (!![a-z]+ )?{line}: values in a secrets file are "
        rf"plain strings; remove the tag and quote the value with `make edit-secrets SECRETS={p}`",
        rf"secrets file {p} nests deeper than 16 levels( {line})?: secrets are group.KEY "
        rf"pairs; {restore}",
    ]


def _where_messages(path: Path) -> list[str]:
    """Every message that names a key path (``where``) of the file."""
    p = re.escape(str(path))
    line = r"\(line (\d+|\?)\)"
    return [
        rf"(?P<where>.*) in {p} is stored in plaintext, not encrypted by sops: "
        rf"remove it, then add it again with `make edit-secrets SECRETS={p}` \(if \.sops\.yaml "
        r"sets "
        r"encrypted_regex or unencrypted_suffix, make it cover every key\)",
        rf"(?P<where>.*) in {p} is a damaged sops value \(cut short or edited by hand\): "
        r"restore the file from git",
        rf"(?P<where>.*) in {p} was encrypted as (a number|a boolean|a date or timestamp|"
        rf"binary data|type '[a-z]+'), not a string \(sops reads an unquoted value by its "
        rf"look\): quote the value with `make edit-secrets SECRETS={p}`, e.g. KEY: \"[^\"]*\", so "
        r"it reaches "
        r"the Secret exactly as written",
        rf"secrets file {p} defines (?P<where>.*) twice {line}: sops refuses duplicate keys; "
        rf"keep one with `make edit-secrets SECRETS={p}`",
        rf"secrets file {p} defines key '(?P<where>.*)' twice in one map: sops refuses "
        rf"duplicate keys; keep one with `make edit-secrets SECRETS={p}`",
        rf"secrets file {p} has a list or map as a key( in (?P<where>.*))? {line}: keys are "
        r"names; restore it from git",
    ]


def _node_paths(
    node: yaml.Node, prefix: tuple[str, ...], ancestors: frozenset[int]
) -> Iterator[str]:
    """Every path of key names in a composed YAML document, as a message names it."""
    if prefix:
        yield ".".join(prefix)
    if id(node) in ancestors:
        return
    inside = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "(complex key)"
            yield from _node_paths(value, (*prefix, name), inside)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _node_paths(item, (*prefix, f"[{index}]"), inside)


def assert_message_names_only_keys(message: str, path: Path) -> None:
    """The message is one of the fixed sentences, or names a key path of the file."""
    if any(re.fullmatch(form, message) for form in _path_message(path)):
        return
    match = next(
        (
            found
            for form in _where_messages(path)
            if (found := re.fullmatch(form, message, flags=re.DOTALL))
        ),
        None,
    )
    assert match, f"unexpected message: {message!r}"
    where = match.group("where")
    if where is None:
        return
    assert MARKER not in where, f"a value leaked into the message: {message!r}"
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # JSON PyYAML cannot read, or input past the point the message was made at
    if node is None:
        return
    candidates = set(_node_paths(node, (), frozenset()))
    names = {part for candidate in candidates for part in candidate.split(".")}
    assert where in candidates or where in names, f"{where!r} is not a key path of the file"


@budget(200)
@given(st.one_of(GARBAGE.map(lambda text: text.encode("utf-8")), st.binary(max_size=200)))
# Each of these once escaped as another exception (ValueError, KeyError, AttributeError,
# IndexError, RecursionError) or, for the list used as a key, quoted its contents.
@example(b"sops: {}\nEXPIRY: 2025-02-30\n")
@example(b"sops: {}\nK: !!int val-secret\n")
@example(b"sops: {}\nK: !!float val-secret\n")
@example(b"sops: {}\nK: !!bool val-secret\n")
@example(b"sops: {}\nK: !!timestamp val-secret\n")
@example(b"sops: {}\nK: !!int ''\n")
@example(b"sops: {}\nK: " + b"1" * 5000 + b"\n")
@example(b"sops: {}\nK: " + b"[" * 600 + b"]" * 600 + b"\n")
@example(b"sops: {}\n? [val-secret]\n: plain\n")
@example(b"\xff\xfe not utf-8")
def test_inspect_garbage_fails_only_with_synth_error_naming_keys_only(
    secrets_file: Path, content: bytes
) -> None:
    result = inspect(secrets_file, content)
    if isinstance(result, SynthError):
        assert_message_names_only_keys(str(result), secrets_file)
    else:
        assert result.key_paths


# ---------------------------------------------------------------------------------------------
# Hostile input for both readers: every hostile construct is refused with SynthError, quickly,
# without quoting a value; the same file without it reads back exactly.

# A hostile file is refused within this; the parse itself takes milliseconds.
HOSTILE_SECONDS = 1.0
ENCRYPTED_STRINGS = st.builds(
    lambda data, iv, tag: f"ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:str]",
    _B64,
    _B64.filter(bool),
    _B64.filter(bool),
)
SOPS_BLOCK = [
    "sops:",
    "    age:",
    "        - recipient: age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
    "    lastmodified: '2025-01-01T00:00:00Z'",
    "    mac: ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:str]",
    "    version: 3.11.0",
]
HOSTILITIES = [
    "alias",
    "anchor",
    "alias bomb",
    "merge key",
    "duplicate key",
    "duplicate group",
    "duplicate sops",
    "tag",
    "deep flow nesting",
    "deep block nesting",
    "complex key",
    "second document",
    "non-string type",
    "plaintext value",
]


@st.composite
def hostile_sops_files(
    draw: st.DrawFn,
) -> tuple[str, str | None, dict[str, dict[str, str]]]:
    """(file text, the hostility or None, the groups and keys the clean file holds)."""
    groups = draw(
        st.dictionaries(
            GROUP_NAMES.filter(lambda name: name != "sops"),
            st.dictionaries(ENV_NAMES, ENCRYPTED_STRINGS, min_size=1, max_size=3),
            min_size=1,
            max_size=3,
        )
    )
    groups.setdefault("litellm", {})[MASTER_KEY] = draw(ENCRYPTED_STRINGS)
    lines = []
    key_lines = []
    for group, entries in groups.items():
        lines.append(f"{group}:")
        for key, value in entries.items():
            key_lines.append(len(lines))
            lines.append(f"    {key}: {value}")
    lines.extend(SOPS_BLOCK)
    hostility = draw(st.sampled_from([None, *HOSTILITIES]))
    at = draw(st.sampled_from(key_lines))
    key, _, value = lines[at].strip().partition(": ")
    depth = draw(st.integers(min_value=17, max_value=5000))
    if hostility == "alias":
        lines[at] = f"    {key}: &v {value}"
        lines.insert(at + 1, "    ALIASED_KEY: *v")
    elif hostility == "anchor":
        lines[at] = f"    {key}: &{draw(ENV_NAMES)} {value}"
    elif hostility == "alias bomb":
        bomb = ["a0: &a0 [val-lol, val-lol, val-lol, val-lol, val-lol, val-lol, val-lol]"]
        bomb += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 12)]
        lines[0:0] = bomb
    elif hostility == "merge key":
        lines.insert(at + 1, "    <<: {MERGED: val-merged}")
    elif hostility == "duplicate key":
        lines.insert(at + 1, lines[at])
    elif hostility == "duplicate group":
        lines[len(lines) - len(SOPS_BLOCK) : 0] = ["litellm:", f"    OTHER: {value}"]
    elif hostility == "duplicate sops":
        lines.extend(SOPS_BLOCK)
    elif hostility == "tag":
        tag = draw(st.sampled_from(["!!str", "!!binary", "!!timestamp", "!custom", "!"]))
        lines[at] = f"    {key}: {tag} {value}"
    elif hostility == "deep flow nesting":
        lines[at] = f"    {key}: {'[' * depth}{']' * depth}"
    elif hostility == "deep block nesting":
        lines[at] = f"    {key}:"
        lines[at + 1 : at + 1] = [f"{'  ' * (level + 3)}k{level}:" for level in range(20)]
    elif hostility == "complex key":
        lines[at : at + 1] = ["    ? [val-complex]", f"    : {value}"]
    elif hostility == "second document":
        lines.extend(["---", "other: val-second"])
    elif hostility == "non-string type":
        kind = draw(st.sampled_from(["int", "float", "bool", "time", "bytes"]))
        lines[at] = lines[at].replace("type:str]", f"type:{kind}]")
    elif hostility == "plaintext value":
        lines[at] = f"    {key}: {draw(VALUES.filter(lambda v: chr(10) not in v)).__repr__()}"
    event(f"hostility: {hostility}")
    return "\n".join(lines) + "\n", hostility, groups


@budget(150)
@given(hostile_sops_files())
def test_key_names_reader_refuses_hostile_yaml_quickly_and_reads_clean_files_exactly(
    secrets_file: Path, case: tuple[str, str | None, dict[str, dict[str, str]]]
) -> None:
    text, hostility, groups = case
    written = _written(secrets_file, text)
    with cpu_seconds_at_most(HOSTILE_SECONDS):
        try:
            inspected = inspect_encrypted_file(written)
            result: SecretsDocument | SynthError = parse_key_names(
                inspected.key_paths, secrets_file, "litellm", inspected.empty_key_paths
            )
        except SynthError as error:
            result = error
    if hostility is None:
        assert isinstance(result, SecretsDocument), str(result)
        assert {group.name: group.keys for group in result.groups} == {
            name: tuple(entries) for name, entries in groups.items()
        }
        return
    assert isinstance(result, SynthError), f"{hostility} was accepted"
    assert MARKER not in str(result)
    assert "ENC[" not in str(result)
    if hostility in ("deep flow nesting", "deep block nesting"):
        # The same line whatever YAML library reads it (libyaml has depth limits of its own).
        assert f"nests deeper than {MAX_NESTING} levels" in str(result), str(result)


def _written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


JSON_HOSTILITIES = [
    "duplicate key",
    "duplicate group",
    "deep nesting",
    "huge integer",
    "not a number",
    "truncated",
    "not an object",
]


@st.composite
def hostile_sops_output(draw: st.DrawFn) -> tuple[bytes, str | None, dict[str, object]]:
    """What sops might print on stdout: (bytes, the hostility or None, the clean document)."""
    document = draw(valid_documents())

    def encode(node: object, depth: int = 0) -> str:
        if isinstance(node, dict):
            pairs = [
                f"{json.dumps(key)}: {encode(value, depth + 1)}" for key, value in node.items()
            ]
            return "{" + ", ".join(pairs) + "}"
        return json.dumps(node)

    text = encode(document)
    hostility = draw(st.sampled_from([None, *JSON_HOSTILITIES]))
    first_value = text.index('"val-') if '"val-' in text else text.index('"sk-')
    depth = draw(st.integers(min_value=100, max_value=200_000))
    if hostility == "duplicate key":
        key, _ = next(iter(document.items()))
        text = "{" + f'{json.dumps(key)}: "val-dup", ' + text[1:]
    elif hostility == "duplicate group":
        text = text[:-1] + ', "litellm": {"K": "val-dup"}, "litellm": {"K": "val-dup"}}'
    elif hostility == "deep nesting":
        text = text[:first_value] + "[" * depth + "]" * depth + ', "X": ' + text[first_value:]
    elif hostility == "huge integer":
        text = text[:first_value] + "1" * 5000 + ', "X": ' + text[first_value:]
    elif hostility == "not a number":
        text = text[:first_value] + draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
        text += ', "X": ' + encode(document)[first_value:]
    elif hostility == "truncated":
        text = text[: draw(st.integers(min_value=0, max_value=len(text) - 1))]
    elif hostility == "not an object":
        text = "[" + text + "]"
    event(f"hostility: {hostility}")
    return text.encode("utf-8"), hostility, document


@budget(150)
@given(hostile_sops_output())
def test_decrypting_reader_refuses_hostile_output_quickly_and_reads_clean_output_exactly(
    case: tuple[bytes, str | None, dict[str, object]],
) -> None:
    output, hostility, document = case
    with cpu_seconds_at_most(HOSTILE_SECONDS):
        try:
            result: SecretsDocument | SynthError = parse_secrets(
                parse_decrypted(output, SOURCE), SOURCE, "litellm"
            )
        except SynthError as error:
            result = error
    if hostility is None:
        assert isinstance(result, SecretsDocument), str(result)
        assert_round_trip(result, document)
        return
    assert isinstance(result, SynthError), f"{hostility} was accepted"
    assert_no_value_in(str(result), document)
    assert "val-dup" not in str(result)
