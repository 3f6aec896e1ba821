"""Swap two directories in one step, so that a reader never finds the output directory missing.

Linux: ``renameat2(..., RENAME_EXCHANGE)`` (glibc 2.28+; the raw syscall on older x86_64 and
aarch64 libcs). macOS: ``renameatx_np(..., RENAME_SWAP)``. Both are atomic: at every instant the
name refers to either the old or the new directory. A filesystem without exchange support
(some network and FUSE filesystems) answers EINVAL, which the writer turns into a refusal rather
than falling back to two renames with a gap between them.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 2  # macOS sys/stdio.h
_SYSCALL_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}


def exchange_entries(directory_fd: int, first: str, second: str) -> None:
    """Atomically swap the entries ``first`` and ``second`` of the directory ``directory_fd``."""
    libc = ctypes.CDLL(None, use_errno=True)
    names = (os.fsencode(first), os.fsencode(second))
    if sys.platform == "darwin":
        result = libc.renameatx_np(
            directory_fd, names[0], directory_fd, names[1], ctypes.c_uint(_RENAME_SWAP)
        )
    elif hasattr(libc, "renameat2"):
        result = libc.renameat2(
            directory_fd, names[0], directory_fd, names[1], ctypes.c_uint(_RENAME_EXCHANGE)
        )
    elif platform.machine() in _SYSCALL_RENAMEAT2:
        result = libc.syscall(
            ctypes.c_long(_SYSCALL_RENAMEAT2[platform.machine()]),
            directory_fd,
            names[0],
            directory_fd,
            names[1],
            ctypes.c_uint(_RENAME_EXCHANGE),
        )
    else:
        raise OSError(
            38, "atomic directory exchange is not available on this system", first, None, second
        )
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), first, None, second)
