"""Writing dist/: all or nothing.

Manifests are written into a fresh directory beside the output directory and swapped into its
place only when every file is written. A synth that fails at any earlier point leaves the
previous output byte-identical; the swap itself is two renames on one filesystem.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


def refuse_unsafe_outdir(outdir: Path) -> None:
    """Plaintext output must not go where git would pick it up: refuse a tracked or
    not-ignored directory inside a git work tree. Outside one there is nothing to check."""
    git = shutil.which("git")
    anchor = next((p for p in (outdir, *outdir.absolute().parents) if p.is_dir()), None)
    if git is None or anchor is None:
        return
    tracked = _git(git, anchor, "ls-files", "--", str(outdir.absolute()))
    if tracked is None:
        return  # not a git work tree
    if tracked.strip():
        raise SynthError(
            f"{outdir} is tracked by git, and a synth writes decrypted secrets there: run "
            f"`git rm -r --cached {outdir}`, add it to .gitignore, and rotate any value committed"
        )
    # The trailing slash lets directory patterns ("/dist/") match a directory not made yet.
    if _git(git, anchor, "check-ignore", "-q", f"{outdir.absolute()}/") is None:
        raise SynthError(
            f"{outdir} is inside a git work tree but not git-ignored, and a synth writes "
            "decrypted secrets there: add it to .gitignore or pass --outdir elsewhere"
        )


def _git(git: str, cwd: Path, *args: str) -> str | None:
    """stdout of a successful git command, None when git says no (or this is no repository)."""
    completed = subprocess.run(
        [git, "-C", str(cwd), *args], capture_output=True, text=True, check=False
    )
    return completed.stdout if completed.returncode == 0 else None


def write_atomically(outdir: Path, files: Sequence[RenderedFile]) -> None:
    """Replace ``outdir`` with exactly ``files``, or leave it untouched on failure."""
    outdir = outdir.absolute()
    if outdir.exists() and not outdir.is_dir():
        raise SynthError(
            f"output path {outdir} exists and is not a directory: pass another --outdir"
        )
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.new-", dir=outdir.parent))
    except OSError as exc:
        raise SynthError(
            f"cannot write beside {outdir} ({exc.strerror}): check permissions or pass --outdir"
        ) from None
    try:
        for rendered in files:
            _write_file(staging / rendered.name, rendered.text, rendered.private)
        staging.chmod(0o755)
        _swap_into_place(staging, outdir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def link_into(link_dir: Path, outdir: Path, files: Sequence[RenderedFile]) -> None:
    """Expose the files of ``outdir`` in ``link_dir`` as relative symlinks, not copies.

    The cdk8s CLI deletes its own output directory before it runs the app and then lists (and
    validates) what the app wrote there. Pointing it at links keeps dist/ the only place that
    holds the manifests, and the CLI's deletion away from the last good output.
    """
    link_dir = link_dir.absolute()
    link_dir.mkdir(parents=True, exist_ok=True)
    for manifest in files:
        link = link_dir / manifest.name
        link.unlink(missing_ok=True)
        link.symlink_to(os.path.relpath(outdir.absolute() / manifest.name, link_dir))


def _write_file(path: Path, text: str, private: bool) -> None:
    # Created with its final mode, so secret values are never readable by others, not even
    # between open and chmod.
    mode = PRIVATE_MODE if private else PUBLIC_MODE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)  # the umask may have narrowed 0644; keep modes exact


def _swap_into_place(staging: Path, outdir: Path) -> None:
    if not outdir.exists():
        staging.rename(outdir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old-", dir=outdir.parent))
    retired.rmdir()
    outdir.rename(retired)
    try:
        staging.rename(outdir)
    except BaseException:
        retired.rename(outdir)
        raise
    shutil.rmtree(retired, ignore_errors=True)


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
