"""Every command in README.md and docs/*.md runs as written, and every file, make target,
option and link they name exists.

Runs over whatever pages exist, so pages other work adds are checked as they arrive. What is
run: `make synth` (into a temporary directory), `.venv/bin/python main.py ...` (placeholders
filled in) and `make -n` for every other make command (the target and its variables are
accepted, nothing runs). Commands that need a cluster (`kubectl`, `tilt`, `curl`) are checked
for the files and targets they name, not run.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT

PAGES = sorted([PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")])
# Paths a documented command creates, or that only exist on a cluster or a user's machine.
CREATED_BY_COMMANDS = ("dist", "secrets/prod.yaml", "~/", "/")
PLACEHOLDERS = {"FILE": "secrets/secrets.yaml", "DIR": "{outdir}", "NAME": "dev"}
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_REPO_PATH = re.compile(
    r"(?:lib|charts|tests|secrets|docs|benchmarks)/[\w./-]*|[\w-]+\.(?:py|md|toml)|"
    r"\.sops\.yaml|Makefile|Tiltfile|cdk8s\.yaml"
)


def make_targets() -> set[str]:
    """The Makefile's targets, with its simple variables (`VENV := .venv`) expanded, so that a
    file target such as `.venv/.test-deps` counts."""
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    variables = dict(re.findall(r"^(\w+) :?= (\S+)$", text, re.MULTILINE))
    text = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), text)
    return {m.group(1) for m in re.finditer(r"^([\w./-]+):(?!=)", text, re.MULTILINE)}


def shell_lines(page: Path) -> list[str]:
    """The commands of the page's sh/bash blocks, comments and prompts stripped."""
    lines = []
    for language, body in _FENCE.findall(page.read_text(encoding="utf-8")):
        if language not in ("sh", "bash", "shell", "console"):
            continue
        for line in body.replace("\\\n", " ").splitlines():  # a continued line is one command
            command = re.sub(r"\s+#.*$", "", line).strip().removeprefix("$ ")
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def inline_commands(page: Path) -> list[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return [span for span in _INLINE.findall(text) if span.startswith(("make ", ".venv/bin/"))]


def all_commands() -> list[tuple[str, str]]:
    return [
        (page.relative_to(PROJECT_ROOT).as_posix(), command)
        for page in PAGES
        for command in [*shell_lines(page), *inline_commands(page)]
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize(("page", "command"), all_commands())
def test_docs_command_names_what_exists(page: str, command: str) -> None:
    words = shlex.split(command.replace("$(", "( "), posix=True)
    if words[0] == "make":
        targets = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        assert set(targets) <= make_targets(), f"{page}: `{command}` names no make target"
    if words[0].startswith(".venv/bin/"):
        tool = words[0].removeprefix(".venv/bin/")
        assert tool in {"python", "sops"}, f"{page}: `{command}`: .venv/bin/{tool} is not installed"
    for word in words:
        for path in _REPO_PATH.findall(word):
            if path.startswith(CREATED_BY_COMMANDS) or "..." in path:
                continue
            assert (PROJECT_ROOT / path).exists(), f"{page}: `{command}` names missing {path}"


def main_py_commands() -> list[tuple[str, str]]:
    return [(p, c) for p, c in all_commands() if c.startswith(".venv/bin/python main.py")]


@pytest.mark.parametrize(("page", "command"), main_py_commands())
def test_docs_main_py_commands_run_as_written(page: str, command: str, tmp_path: Path) -> None:
    words = [PLACEHOLDERS.get(w, w).format(outdir=tmp_path / "out") for w in shlex.split(command)]
    if "--outdir" not in words:
        words += ["--outdir", str(tmp_path / "out")]
    if "--env" in words and words[words.index("--env") + 1] == "prod":
        pytest.fail(f"{page}: `{command}` needs secrets/prod.yaml: document it with --explain")
    result = subprocess.run(
        [sys.executable, *words[1:]],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{page}: `{command}`: {result.stderr}"


def test_docs_make_synth_runs_as_written(tmp_path: Path) -> None:
    """`make synth` as documented: the command make would run (`make -n`), then that command.
    Not `make synth` itself, whose install step syncs .venv to the synth's lock and would take
    the test tools out from under the running suite."""
    assert any(c == "make synth" for _, c in all_commands())
    outdir = tmp_path / "out"
    planned = subprocess.run(
        ["make", "-n", "--no-print-directory", "synth", f"OUTDIR={outdir}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    (synth,) = [line for line in planned if " main.py " in f"{line} "]
    words = shlex.split(synth)
    assert words[:2] == [".venv/bin/python", "main.py"]
    result = subprocess.run(
        [sys.executable, *words[1:]],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"wrote {outdir}/: ")


@pytest.mark.parametrize(
    ("page", "command"), [(p, c) for p, c in all_commands() if c.startswith("make ")]
)
def test_docs_make_commands_are_accepted(page: str, command: str) -> None:
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *shlex.split(command)[1:]],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{page}: `{command}`: {result.stderr}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(PROJECT_ROOT).as_posix())
def test_docs_links_reach_pages_and_headings(page: Path) -> None:
    for target in _LINK.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        assert linked.exists(), f"{page.name}: broken link {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name}: no heading for {target}"


def test_docs_readme_is_a_short_path() -> None:
    lines = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[:4] == [
        "## Quick start",
        "## Deploy dev and send a first request",
        "## Switch to your own age key",
        "## Add a provider and a model",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(PROJECT_ROOT).as_posix())
def test_docs_repository_paths_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    named = {
        match.rstrip(".,:;)").split(":")[0]
        for span in _INLINE.findall(text)
        for match in re.findall(
            r"(?<![\w/.-])(?:lib|charts|tests|secrets|docs|benchmarks)/[\w./-]++(?!\*)", span
        )
    }
    missing = sorted(
        path
        for path in named
        if not path.startswith(CREATED_BY_COMMANDS)
        and "..." not in path
        and not (PROJECT_ROOT / path).exists()
    )
    assert missing == [], f"{page.name} names paths that do not exist"


def test_docs_index_lists_every_page() -> None:
    """docs/README.md is the index by kind: a page it does not link is a page nobody finds."""
    index = PROJECT_ROOT / "docs" / "README.md"
    linked = {
        (index.parent / target.partition("#")[0]).resolve()
        for target in _LINK.findall(index.read_text(encoding="utf-8"))
        if not target.startswith(("http://", "https://", "#"))
    }
    pages = {page.resolve() for page in (PROJECT_ROOT / "docs").glob("*.md") if page != index}
    assert sorted(p.name for p in pages - linked) == []
    headings = re.findall(r"^## (.+)$", index.read_text(encoding="utf-8"), re.MULTILINE)
    assert headings == ["Tutorials", "How-to guides", "Reference", "Explanation"]
