"""A slip made while lib/environments.py builds its table, told as one line that says where.

Python reports a misspelt field (``replica=2``) as a TypeError and a missing import as a
NameError, with a traceback into dataclass internals; a spec's own refusal (a SynthError) does
not say which entry of the table it came from. Here the traceback's position in the table file
(Python 3.11 records the column span of the failing call) is matched against the file's syntax
tree, which names the environment (the ``ENVIRONMENTS`` key, or the shared constant and the
environments that use it) and the field (the keyword arguments around the call).

Only slips are told this way: a SynthError raised while the table module runs, and a TypeError
or NameError raised by the table's own code. Anything raised deeper is a bug and keeps its
traceback.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib
import re
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from lib.errors import SynthError

TABLE_FILE = Path(__file__).resolve().parent / "environments.py"
TABLE_NAME = "ENVIRONMENTS"
# Where a name the table forgot to import is likely to be found.
_SPEC_MODULES = (
    "lib.specs.apps",
    "lib.specs.availability",
    "lib.specs.cache",
    "lib.specs.gateway",
    "lib.specs.image",
    "lib.specs.metrics",
    "lib.specs.modes",
    "lib.specs.network",
    "lib.specs.redis",
    "lib.specs.router",
    "lib.proxy_config.spec",
    "lib.external_secrets",
)
_UNKNOWN_KEYWORD = re.compile(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'")
_MISSING = re.compile(r"(\w+)\.__init__\(\) missing \d+ required (?:positional|keyword-only) ")


def slip_line(exc: BaseException, table_file: Path = TABLE_FILE) -> str | None:
    """The one line for ``exc`` if it is a slip in the table, else None (a bug: traceback)."""
    frames = [
        (summary, frame)
        for summary, (frame, _) in zip(
            traceback.extract_tb(exc.__traceback__),
            traceback.walk_tb(exc.__traceback__),
            strict=True,
        )
        if Path(summary.filename).resolve() == table_file and summary.name == "<module>"
    ]
    if not frames:
        return None
    summary, frame = frames[-1]
    raised_by_table = _innermost(exc.__traceback__) is frame
    if isinstance(exc, SynthError):
        message = str(exc)
    elif isinstance(exc, TypeError) and raised_by_table:
        message = _type_error(str(exc), frame.f_globals)
    elif isinstance(exc, NameError) and raised_by_table:
        message = _name_error(exc, frame.f_globals)
    else:
        return None
    context = _context(table_file, summary)
    return f"{_display(table_file)} line {summary.lineno}{context}: {message}"


def _innermost(tb: TracebackType | None) -> object:
    last = None
    while tb is not None:
        last, tb = tb.tb_frame, tb.tb_next
    return last


def _type_error(text: str, names: dict[str, Any]) -> str:
    if found := _UNKNOWN_KEYWORD.match(text):
        spec, keyword = found.groups()
        fields = _fields_of(names.get(spec))
        close = difflib.get_close_matches(keyword, fields, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"its fields are {', '.join(fields)}"
        return f"{spec} has no field '{keyword}': {hint}"
    if found := _MISSING.match(text):
        spec = found.group(1)
        missing = text.partition(": ")[2]
        return f"{spec} needs {missing}: add it"
    return text


def _name_error(exc: NameError, names: dict[str, Any]) -> str:
    name = exc.name or ""
    for module_name in _SPEC_MODULES:
        if hasattr(importlib.import_module(module_name), name):
            return (
                f"name '{name}' is not imported: add `from {module_name} import {name}` "
                "at the top of the file"
            )
    close = difflib.get_close_matches(name, [n for n in names if not n.startswith("__")], n=1)
    return f"name '{name}' is not defined" + (f": did you mean '{close[0]}'?" if close else "")


def _fields_of(spec: object) -> list[str]:
    if isinstance(spec, type) and dataclasses.is_dataclass(spec):
        return [f.name for f in dataclasses.fields(spec) if f.init]
    return []


def _context(table_file: Path, summary: traceback.FrameSummary) -> str:
    """``, environment 'prod', gateway`` or ``, _MODELS (used by environments 'dev', 'prod'),
    models[2]``: which entry, and the field path down to the failing call."""
    try:
        tree = ast.parse(table_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return ""
    span = (summary.lineno, summary.colno, summary.end_lineno, summary.end_colno)
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and _contains(statement, span):
            target = statement.targets[0] if isinstance(statement, ast.Assign) else None
            target = target or getattr(statement, "target", None)
            name = target.id if isinstance(target, ast.Name) else "?"
            value = statement.value
            if value is None:
                return ""
            path = _path_to(value, span)
            if name == TABLE_NAME and path and path[0].startswith("["):
                head = f", environment {path[0][1:-1]}"
                return head + (f", {_join(path[1:])}" if path[1:] else "")
            users = _environments_using(tree, name)
            used = f" (used by environments {', '.join(users)})" if users else ""
            return f", {name}{used}" + (f", {_join(path)}" if path else "")
    return ""


def _join(path: list[str]) -> str:
    return "".join(part if part.startswith("[") else f".{part}" for part in path).lstrip(".")


def _contains(node: ast.AST, span: tuple[int | None, ...]) -> bool:
    line, col, end_line, end_col = span
    if line is None or end_line is None:
        return False
    start = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
    end = (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)
    return start <= (line, col or 0) and (end_line, end_col or 0) <= end


def _path_to(node: ast.AST, span: tuple[int | None, ...]) -> list[str]:
    """The keyword names, dict keys and tuple indexes from ``node`` down to the call at
    ``span``."""
    for child, step in _steps(node):
        if _contains(child, span):
            return ([step] if step else []) + _path_to(child, span)
    return []


def _steps(node: ast.AST) -> list[tuple[ast.AST, str]]:
    if isinstance(node, ast.Call):
        calls: list[tuple[ast.AST, str]] = [(node.func, ""), *((a, "") for a in node.args)]
        return calls + [(k.value, k.arg or "") for k in node.keywords]
    if isinstance(node, ast.Dict):
        steps: list[tuple[ast.AST, str]] = []
        for key, value in zip(node.keys, node.values, strict=True):
            label = repr(key.value) if isinstance(key, ast.Constant) else "?"
            steps.append((value, f"[{label}]"))
        return steps
    if isinstance(node, ast.Tuple | ast.List):
        elements: list[ast.AST] = list(node.elts)
        return [(element, f"[{i}]") for i, element in enumerate(elements)]
    return [(child, "") for child in ast.iter_child_nodes(node)]


def _environments_using(tree: ast.Module, name: str) -> list[str]:
    """The ENVIRONMENTS keys whose entries use ``name``, directly or through other constants."""
    uses: dict[str, set[str]] = {}
    entries: dict[str, set[str]] = {}
    for statement in tree.body:
        if not isinstance(statement, ast.Assign | ast.AnnAssign) or statement.value is None:
            continue
        target = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
        if not isinstance(target, ast.Name):
            continue
        if target.id == TABLE_NAME and isinstance(statement.value, ast.Dict):
            for key, value in zip(statement.value.keys, statement.value.values, strict=True):
                if isinstance(key, ast.Constant):
                    entries[repr(key.value)] = _names_in(value)
        else:
            uses[target.id] = _names_in(statement.value)

    def reaches(names: set[str], seen: frozenset[str] = frozenset()) -> bool:
        return name in names or any(
            reaches(uses[n], seen | {n}) for n in names if n in uses and n not in seen
        )

    return [entry for entry, names in entries.items() if reaches(names)]


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _display(path: Path) -> str:
    """``lib/environments.py``: as the project names it, wherever the command runs."""
    return f"{path.parent.name}/{path.name}"
