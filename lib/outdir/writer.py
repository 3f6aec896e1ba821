"""The output directory written as a whole: checked, staged, swapped in, or left as it was.

1. ``prepare_output`` (before anything is decrypted): refuse protected directories and, for
   plaintext output, anything git would list; remove staging directories a killed synth left.
2. ``write_output``, under the lock: refuse an output directory holding anything this tool did
   not write, stage every file (stamp first) in ``.<name>.staging-XXXXXXXX`` beside it, then
   swap the staging directory with the output directory in one atomic exchange (a plain rename
   when there is no output directory yet), and remove the previous output, now at the staging
   path. A failure or a signal at any point removes the staging path, which holds either the
   partial new output or the complete previous one; the output directory is complete throughout.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lib.errors import SynthError
from lib.outdir import exchange
from lib.outdir.git_guard import refuse_unignored
from lib.outdir.lock import locked_directory
from lib.outdir.protected import refuse_protected
from lib.outdir.stamp import (
    IGNORE_NAME,
    IGNORE_TEXT,
    STAMP_NAME,
    foreign_entries,
    remove_owned,
    stamp_text,
    stamped_files,
)
from lib.output import PRIVATE_MODE, PUBLIC_MODE, RenderedFile
from lib.signals import signals_held

_STAGING = ".{name}.staging-"
# How long the previous output stays whole after the exchange, for readers already inside it.
# A thousand times longer than listing a directory takes; short next to a synth (half a second).
PREVIOUS_OUTPUT_GRACE_SECONDS = 0.02
# tempfile.mkdtemp's random part: 8 characters of this alphabet.
_STAGING_SUFFIX = re.compile(r"[a-z0-9_]{8}\Z")
_ADVICE = {
    errno.ENOSPC: "free space on that filesystem, or pass another --outdir",
    errno.EDQUOT: "free space within your quota, or pass another --outdir",
    errno.EROFS: "the filesystem is read-only: pass an --outdir on a writable one",
    errno.EACCES: "check its permissions, or pass another --outdir",
    errno.EPERM: "check its permissions and attributes (`lsattr -d`: immutable?), or pass "
    "another --outdir",
    errno.ENAMETOOLONG: "pass a shorter --outdir",
    errno.ELOOP: "a symbolic link on the way loops: fix it, or pass another --outdir",
    errno.ENOTDIR: "a part of the path is a file, not a directory: pass another --outdir",
    errno.EBUSY: "it is in use (a mount point?): pass another --outdir",
}


@dataclass(frozen=True)
class OutputTarget:
    """An output directory: ``path`` absolute with its parent resolved, ``shown`` as given."""

    path: Path
    shown: Path
    # Inside a git work tree whose rules do not ignore the staging directories: each must be
    # invisible to git by its own ignore file from its first entry on (see _write_ignore_file).
    staging_needs_own_ignore: bool = False

    @property
    def staging_prefix(self) -> str:
        return _STAGING.format(name=self.path.name)


def prepare_output(
    outdir: Path,
    *,
    secrets_file: Path,
    plaintext: bool,
    environ: Mapping[str, str] | None = None,
) -> OutputTarget:
    """Every refusal that needs no manifests, run before any expensive or secret work."""
    environ = os.environ if environ is None else environ
    try:
        target = _target(outdir)
        refuse_protected(target.path, outdir, secrets_file, environ)
        if plaintext:
            staging_ignored = refuse_unignored(
                target.path, outdir, target.path.parent / f"{target.staging_prefix}xxxxxxxx"
            )
            target = replace(target, staging_needs_own_ignore=not staging_ignored)
        if target.path.parent.is_dir():
            with locked_directory(target.path.parent, outdir):
                _remove_stale_staging(target)
    except OSError as exc:
        raise _os_failure(exc, outdir) from None
    return target


def write_output(target: OutputTarget, files: Sequence[RenderedFile]) -> tuple[str, ...]:
    """Replace the output directory with exactly ``files`` and the stamp, or leave it as it was.

    Returns what the user should hear although the write succeeded: something the synth did not
    write kept the previous output from being removed."""
    try:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        with locked_directory(target.path.parent, target.shown) as parent_fd:
            previous = _refuse_foreign(target)
            _remove_stale_staging(target)
            return _replace(parent_fd, target, previous, files)
    except OSError as exc:
        raise _os_failure(exc, target.shown) from None


def _replace(
    parent_fd: int,
    target: OutputTarget,
    previous: os.stat_result | None,
    files: Sequence[RenderedFile],
) -> tuple[str, ...]:
    """Stage, swap in, remove the previous output. A failure or a signal at any point removes
    the staging path: the partial new output, or the previous one once swapped. The steps a
    signal must not cut in half (creating the staging directory and learning its name, removing
    the previous output) finish first, then the signal is raised."""
    staging: Path | None = None
    try:
        with signals_held():
            staging = Path(tempfile.mkdtemp(prefix=target.staging_prefix, dir=target.path.parent))
        _stage(staging, files, target)
        _take_over_directory(staging, previous, target)
        if previous is None:
            os.rename(staging.name, target.path.name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
            os.fsync(parent_fd)
            return ()
        _swap(parent_fd, staging, target.path)
        os.fsync(parent_fd)
        # A reader that opened the previous directory just before the exchange (Tilt or kubectl
        # between opendir and reading its entries) would otherwise watch it being emptied and
        # see no manifests at all: let such a reader finish first.
        time.sleep(PREVIOUS_OUTPUT_GRACE_SECONDS)
        with signals_held():
            return _remove_previous(target, staging)
    except BaseException:
        if staging is not None:
            with signals_held():
                _discard(staging)  # the partial new output, or the previous one after the swap
        raise


def link_into(link_dir: Path, outdir: Path, files: Sequence[RenderedFile]) -> None:
    """Expose the files of ``outdir`` in ``link_dir`` as relative symlinks, not copies.

    The cdk8s CLI deletes its own output directory before it runs the app and then lists (and
    validates) what the app wrote there. Pointing it at links keeps the output directory the only
    place that holds the manifests, and the CLI's deletion away from the last good output.
    """
    link_dir = Path(os.path.abspath(link_dir))
    target_dir = Path(os.path.abspath(outdir))
    try:
        link_dir.mkdir(parents=True, exist_ok=True)
        for manifest in files:
            link = link_dir / manifest.name
            _refuse_replacing_what_is_not_our_link(link, link_dir, target_dir, outdir)
            link.unlink(missing_ok=True)
            link.symlink_to(os.path.relpath(target_dir / manifest.name, link_dir))
    except OSError as exc:
        where = exc.filename or link_dir
        raise SynthError(
            f"wrote {outdir}, but cannot link its files into the cdk8s CLI output directory "
            f"{link_dir} ({where}: {exc.strerror or exc}): check that directory (CDK8S_OUTDIR)"
        ) from None


def _refuse_replacing_what_is_not_our_link(
    link: Path, link_dir: Path, target_dir: Path, outdir: Path
) -> None:
    """Only a link such as this function makes (into the output directory) is replaced: a stray
    CDK8S_OUTDIR pointing at a directory of the user's must not turn their files into links."""
    try:
        info = os.lstat(link)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        pointed = Path(os.path.normpath(link_dir / os.readlink(link)))
        if pointed.parent == target_dir:
            return
    raise SynthError(
        f"wrote {outdir}, but will not link its files into the cdk8s CLI output directory "
        f"{link_dir} (CDK8S_OUTDIR): {link} is already there and is not a link into {outdir}; "
        "the CLI deletes that directory before every run, so point CDK8S_OUTDIR (cdk8s synth "
        "--output) at a directory of its own"
    )


def refuse_overlapping_cli_outdir(cli_outdir: Path, outdir: Path) -> None:
    """The cdk8s CLI deletes its output directory before each run and gets links to the files
    of ``outdir``: one inside the other (or the same) would delete or corrupt the output."""
    first, second = (Path(os.path.realpath(path)) for path in (cli_outdir, outdir))
    if first == second or first in second.parents or second in first.parents:
        raise SynthError(
            f"the cdk8s CLI output directory {cli_outdir} (CDK8S_OUTDIR) and --outdir {outdir} "
            "overlap: the CLI has already deleted its directory (recursively) before this app "
            "started, and receives links to the files of --outdir; keep them apart (cdk8s.yaml "
            "has `output: .cdk8s-cli-out`) and run `make synth` again to write the output anew"
        )


def _target(outdir: Path) -> OutputTarget:
    absolute = Path(os.path.abspath(outdir))
    path = Path(os.path.realpath(absolute.parent)) / absolute.name
    if absolute.name and os.path.islink(path):
        raise SynthError(
            f"output path {outdir} is a symbolic link: pass the directory it points to, or "
            "another --outdir"
        )
    if absolute.name and os.path.lexists(path) and not path.is_dir():
        raise SynthError(
            f"output path {outdir} exists and is not a directory: pass another --outdir"
        )
    return OutputTarget(path=path if absolute.name else absolute, shown=outdir)


def _refuse_foreign(target: OutputTarget) -> os.stat_result | None:
    """The output directory's status, None if there is none; refuses one holding what this tool
    did not write."""
    try:
        info = os.lstat(target.path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        raise SynthError(
            f"output path {target.shown} exists and is not a directory: pass another --outdir"
        )
    foreign = foreign_entries(target.path)
    if not foreign:
        return info
    listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    earlier = ""
    if stamped_files(target.path) is None and all(name.endswith(".k8s.yaml") for name in foreign):
        earlier = " (if they are from an earlier version of this tool, delete the directory)"
    raise SynthError(
        f"refusing to replace {target.shown}: it holds {listed}, which this tool did not write, "
        f"and a synth replaces the whole directory: move them elsewhere{earlier}, or pass "
        "another --outdir"
    )


def _stage(staging: Path, files: Sequence[RenderedFile], target: OutputTarget) -> None:
    # The ignore file goes first: git skips the directory before it holds anything else.
    _write_ignore_file(staging, target)
    # Then the stamp: from then on a later synth can tell this directory is its own.
    _write_file(staging / STAMP_NAME, stamp_text([f.name for f in files]), private=False)
    for rendered in files:
        _write_file(staging / rendered.name, rendered.text, rendered.private)
    descriptor = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_ignore_file(staging: Path, target: OutputTarget) -> None:
    """``staging``'s ``.gitignore`` (``*``), appearing complete or not at all: written to an
    unnamed file (O_TMPFILE) and then linked in under its name. An empty directory is invisible
    to git, and so is one with this file in it; a kill between the two leaves nothing git lists.
    A plain create-then-write would leave an empty ``.gitignore``, which git lists, if killed
    in between: used only where the repository's own rules already ignore the staging path."""
    data = IGNORE_TEXT.encode("utf-8")
    try:
        descriptor = os.open(staging, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, PUBLIC_MODE)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
        if target.staging_needs_own_ignore:
            pattern = f"/{target.staging_prefix}*"
            raise SynthError(
                f"{target.shown} is git-ignored, but the filesystem cannot create the staging "
                "directories' own ignore file atomically (no O_TMPFILE), and a synth writes "
                f"decrypted secrets there before it swaps them in: add `{pattern}` (beside "
                f"{target.shown}) to .gitignore, or pass --outdir outside the repository"
            ) from None
        _write_file(staging / IGNORE_NAME, IGNORE_TEXT, private=False)
        return
    try:
        os.write(descriptor, data)
        os.fchmod(descriptor, PUBLIC_MODE)
        os.fsync(descriptor)
        # A dir_fd makes Python call linkat(2), which follows the /proc link to the file;
        # plain link(2) would try to link the /proc entry itself.
        directory = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.link(
                f"/proc/self/fd/{descriptor}",
                IGNORE_NAME,
                dst_dir_fd=directory,
                follow_symlinks=True,
            )
        finally:
            os.close(directory)
    finally:
        os.close(descriptor)


def _take_over_directory(
    staging: Path, previous: os.stat_result | None, target: OutputTarget
) -> None:
    """The new output directory gets the previous one's owner, group and mode (a shared
    ``chmod 2770`` group directory stays one), with the owner's rwx added so that the next
    synth can replace it. Root gives it the previous owner; anyone else must be that owner (a
    synth by another user would silently take the directory over) and keeps its group if they
    are in it, else it is refused: the group's access would change."""
    if previous is None:
        staging.chmod(0o755)
        return
    if os.geteuid() == 0:
        os.chown(staging, previous.st_uid, previous.st_gid)
    elif previous.st_uid != os.geteuid():
        raise SynthError(
            f"refusing to replace {target.shown}: it belongs to another user (uid "
            f"{previous.st_uid}), and the new output would belong to you: run the synth as "
            "that user, or pass another --outdir"
        )
    elif previous.st_gid != os.stat(staging).st_gid:
        try:
            os.chown(staging, -1, previous.st_gid)
        except PermissionError:
            raise SynthError(
                f"refusing to replace {target.shown}: its group (gid {previous.st_gid}) is not "
                "one of yours, so the new output could not keep it and that group's access "
                "would change: run the synth as a member of that group, or pass another --outdir"
            ) from None
    staging.chmod(stat.S_IMODE(previous.st_mode) | stat.S_IRWXU)


def _write_file(path: Path, text: str, private: bool) -> None:
    # Created with its final mode, so secret values are never readable by others, not even
    # between open and chmod.
    mode = PRIVATE_MODE if private else PUBLIC_MODE
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(path, flags, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)  # the umask may have narrowed 0644; keep it exact
    except OSError as exc:
        exc.filename = exc.filename or str(path)  # write(2) errors carry no path: name the file
        raise


def _swap(parent_fd: int, staging: Path, outdir: Path) -> None:
    try:
        exchange.exchange_entries(parent_fd, staging.name, outdir.name)
    except OSError as exc:
        # Named by full path: the output directory is what a busy or immutable error is about.
        raise OSError(exc.errno, exc.strerror, str(outdir), None, str(staging)) from None


def _remove_previous(target: OutputTarget, previous: Path) -> tuple[str, ...]:
    """The new output is in place; the previous one, swapped to ``previous``, goes."""
    try:
        remove_owned(previous)
    except OSError as exc:
        if exc.errno == errno.ENOTEMPTY:
            # Added while the synth ran: not ours to delete, but not to be forgotten either (no
            # synth removes a staging directory holding what it did not write).
            kept = sorted(os.listdir(previous))
            listed = ", ".join(kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else "")
            return (
                f"wrote {target.shown}, but {listed}, added to it during the synth, is now in "
                f"the previous output directory {previous}, which stays because this tool "
                "deletes only what it wrote: move what you need out of it, then delete it",
            )
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return (
                f"wrote {target.shown}, but {previous}, where the previous output was moved, "
                "was replaced by something else during the synth, so nothing was removed "
                "there: look at it and delete it yourself; the previous output may hold "
                "decrypted secrets",
            )
        raise SynthError(
            f"wrote {target.shown}, but cannot remove the previous output now at {previous} "
            f"({exc.strerror}): delete it yourself; it may hold decrypted secrets"
        ) from None
    return ()


def _remove_stale_staging(target: OutputTarget) -> None:
    """Remove what a killed synth left beside the output: only directories named like our
    staging, owned by this user, and holding nothing but a stamp and the files it lists (or
    nothing at all). Anything else with such a name is someone else's and stays."""
    parent = target.path.parent
    for name in os.listdir(parent):
        if not name.startswith(target.staging_prefix):
            continue
        if not _STAGING_SUFFIX.match(name[len(target.staging_prefix) :]):
            continue
        path = parent / name
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            continue
        if foreign_entries(path):
            continue
        remove_owned(path)


def _discard(staging: Path) -> None:
    try:
        remove_owned(staging)
    except FileNotFoundError:
        pass  # renamed into place: nothing left to remove
    except OSError:
        pass  # a later synth removes it (it is stamped); the original error matters more


def _os_failure(exc: OSError, shown: Path) -> SynthError:
    where = exc.filename or shown
    if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP) and exc.filename2 is not None:
        advice = (
            "this filesystem cannot swap directories atomically: pass an --outdir on a local "
            "filesystem"
        )
    else:
        advice = _ADVICE.get(exc.errno or 0, "check the path, or pass another --outdir")
    return SynthError(
        f"cannot write the output directory {shown}: {where}: {exc.strerror or exc}; the "
        f"previous output is unchanged: {advice}"
    )
