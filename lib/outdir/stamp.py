"""The stamp: how an output directory says which of its files this tool wrote.

Every synth writes ``.seance-synth`` into its output directory, listing the manifest files it
wrote. A directory may be replaced only when it is empty or holds exactly its stamp and the
regular files the stamp lists: anything else (notes, sources, a secrets file, output of another
tool or of an earlier version of this one) is refused, never deleted. Staging directories carry
the same stamp, written before any manifest, which is how a later synth recognises one left
behind by a killed synth. The name has no ``.yaml``/``.json`` suffix, so ``kubectl apply -f
dist/`` and the Tiltfile never read it as a manifest.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

STAMP_NAME = ".seance-synth"
# Every directory a synth writes ignores itself: a staging directory is invisible to git from
# the moment it holds anything, whatever the repository's .gitignore says (writer.py).
IGNORE_NAME = ".gitignore"
IGNORE_TEXT = "# Written by the synth (main.py): decrypted output is never committed.\n*\n"
_WRITER = "seance synth (main.py); do not add files to this directory: a synth replaces it whole"
# Manifest names as the charts make them: a plain file name, never a path or a hidden file.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.yaml\Z")
_MAX_STAMP_BYTES = 64 * 1024


def stamp_text(files: Sequence[str]) -> str:
    for name in files:
        if not _FILE_NAME.match(name):
            raise ValueError(f"not a manifest file name: {name!r}")  # a bug in the charts
    return json.dumps({"written_by": _WRITER, "files": list(files)}, indent=2) + "\n"


def stamped_files(directory: Path) -> tuple[str, ...] | None:
    """The files the stamp in ``directory`` lists, or None when there is no valid stamp."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        return _stamped_in(descriptor)
    finally:
        os.close(descriptor)


def _stamped_in(directory_fd: int) -> tuple[str, ...] | None:
    """The stamp read through the open directory ``directory_fd``, never through a link."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(STAMP_NAME, flags, dir_fd=directory_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link where the stamp should be: no stamp
            return None
        raise
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_STAMP_BYTES:
            return None
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            document = json.loads(handle.read(_MAX_STAMP_BYTES + 1))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    finally:
        os.close(descriptor)
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list) or document.get("written_by") != _WRITER:
        return None
    if not all(isinstance(name, str) and _FILE_NAME.match(name) for name in files):
        return None
    return tuple(files)


def foreign_entries(directory: Path) -> list[str]:
    """What in ``directory`` this tool did not write (empty: the directory may be replaced).

    A directory without a valid stamp owns nothing, so all of its entries are foreign. A listed
    name that is not a regular file (someone replaced it with a directory or a link) is foreign.
    """
    entries = sorted(os.listdir(directory))
    owned = stamped_files(directory)
    if owned is None:
        # A killed synth's staging directory may hold its ignore file and nothing else yet.
        if entries == [IGNORE_NAME] and is_own_ignore_file(directory):
            return []
        return entries
    foreign = []
    for name in entries:
        if name == STAMP_NAME or (name == IGNORE_NAME and is_own_ignore_file(directory)):
            continue
        if name not in owned or not stat.S_ISREG(os.lstat(directory / name).st_mode):
            foreign.append(name)
    return foreign


def remove_owned(directory: Path) -> None:
    """Remove the stamp, the files it lists and then the directory, and nothing else.

    ``rmdir`` fails (ENOTEMPTY) if anything else is in there, which is the point: a file this
    tool did not write survives, and so does the directory holding it. Everything goes through
    directory descriptors opened without following links: if ``directory`` was swapped for a
    link meanwhile, opening it fails (ELOOP or ENOTDIR) and nothing it points to is touched.
    """
    parent = os.open(directory.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(directory.name, flags, dir_fd=parent)
        try:
            # The ignore file goes last: until the directory is empty, git still skips it.
            for name in (*(_stamped_in(descriptor) or ()), STAMP_NAME, IGNORE_NAME):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=descriptor)
        finally:
            os.close(descriptor)
        os.rmdir(directory.name, dir_fd=parent)  # a link put there since: ENOTDIR, it stays
    finally:
        os.close(parent)


def is_own_ignore_file(directory: Path) -> bool:
    """Whether ``directory`` holds the ignore file a synth writes: a regular file (not a link)
    with exactly ``IGNORE_TEXT``."""
    path = directory / IGNORE_NAME
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(IGNORE_TEXT.encode()):
            return False
        return path.read_text(encoding="utf-8") == IGNORE_TEXT
    except (OSError, UnicodeDecodeError):
        return False
