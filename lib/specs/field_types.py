"""A runtime check of spec fields against their annotations: a slip in lib/environments.py (a
string where an image reference goes, a missing comma in a one-item tuple) is one sentence
naming the field and what to write, not an AttributeError three modules later.

Why not pydantic's strict dataclasses: another dependency (and its compiled core) for the ~10
annotation forms the specs use, errors in its own multi-line format that would need
translating back into one line anyway, and a second way to declare a spec. This walks
``typing.get_type_hints`` of the frozen dataclasses as they are; mypy --strict checks the same
annotations before anything runs.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from lib.errors import SynthError

_SIMPLE_NAMES = {str: "a string", int: "an int", float: "a number", bool: "True or False"}


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def check_field_types(instance: object, path: str = "", *, recursive: bool = False) -> None:
    """Refuse a field of the dataclass ``instance`` whose value does not fit its annotation.

    ``path`` prefixes field names in the message (``apps[0].``). ``recursive`` also walks the
    specs nested in it (through tuples and mappings)."""
    hints = _hints(type(instance))
    for spec_field in dataclasses.fields(instance):  # type: ignore[arg-type]
        value = getattr(instance, spec_field.name)
        where = f"{path}{spec_field.name}"
        _check_value(value, hints[spec_field.name], where)
        if recursive:
            for sub_path, nested in _nested_specs(value, where):
                check_field_types(nested, f"{sub_path}.", recursive=True)


def _nested_specs(value: object, where: str) -> list[tuple[str, object]]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(where, value)]
    if isinstance(value, tuple):
        return [(f"{where}[{i}]", item) for i, item in enumerate(value) if _is_spec(item)]
    return []


def _is_spec(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _check_value(value: object, annotation: Any, where: str) -> None:
    if _fits(value, annotation):
        return
    expected = describe(annotation)
    raise SynthError(f"{where} is {_shown(value)}, not {expected}: {_advice(value, annotation)}")


def _fits(value: object, annotation: Any) -> bool:
    if annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, option) for option in arguments)
    if annotation is None or annotation is type(None):
        return value is None
    if origin is typing.Literal:
        return value in arguments
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return all(_fits(item, arguments[0]) for item in value)
        return len(value) == len(arguments) and all(map(_fits, value, arguments))
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        if not isinstance(value, Mapping):
            return False
        key_type, value_type = arguments or (Any, Any)
        return all(_fits(k, key_type) and _fits(v, value_type) for k, v in value.items())
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True  # a form the specs do not use: mypy is its judge


def describe(annotation: Any) -> str:
    """An annotation in words: ``tuple[str, ...]`` is "a tuple of strings"."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if annotation is None or annotation is type(None):
        return "None"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(describe(option) for option in arguments)
    if origin is typing.Literal:
        return " or ".join(repr(option) for option in arguments)
    if origin is tuple:
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            item = describe(arguments[0]).removeprefix("a ").removeprefix("an ")
            return f"a tuple of {item}s"
        return "a tuple"
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        key_type, value_type = arguments or (Any, Any)
        return f"a mapping of {_plural(key_type)} to {_plural(value_type)}"
    if annotation in _SIMPLE_NAMES:
        return _SIMPLE_NAMES[annotation]
    if annotation is Path:
        return "a Path"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return f"one of {', '.join(f'{annotation.__name__}.{m.name}' for m in annotation)}"
    if isinstance(annotation, type):
        article = "an" if annotation.__name__[0] in "AEIOU" else "a"
        return f"{article} {annotation.__name__}"
    return str(annotation)


def _plural(annotation: Any) -> str:
    if annotation is Any:
        return "anything"
    return describe(annotation).removeprefix("a ").removeprefix("an ") + "s"


def _shown(value: object) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, bool | int | float):
        return f"the {type(value).__name__} {value!r}"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def _advice(value: object, annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    options = typing.get_args(annotation) if origin in (types.UnionType, typing.Union) else ()
    wanted = [a for a in (*options, annotation) if a is not type(None)]
    names = {getattr(a, "__name__", "") for a in wanted}
    tuples = [a for a in wanted if typing.get_origin(a) is tuple]
    if isinstance(value, str) and "ImageRef" in names:
        return f"write ImageRef.parse({value!r})"
    if isinstance(value, str) and tuples:
        # ("slack") is the string "slack": only the comma makes a one-item tuple.
        return f"a one-item tuple needs a trailing comma: write ({value!r},)"
    if isinstance(value, list) and tuples:
        return f"write a tuple in parentheses: ({', '.join(map(repr, value))})"
    if isinstance(value, str) and (int in wanted or float in wanted):
        return f"write the number without quotes: {value.strip()}"
    if Path in wanted and isinstance(value, str):
        return f"write Path({value!r})"
    return f"write {describe(annotation)}"
