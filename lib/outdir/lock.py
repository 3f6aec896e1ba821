"""One synth at a time writes beside a given output directory.

The lock is ``flock`` on the output directory's parent, not on a lock file: a lock file would be
one more thing left beside the output that git must ignore, and the output directory itself
cannot hold the lock because it is swapped for a new inode on every synth. Synths into
different directories of one parent wait for each other too; the write takes milliseconds.
The kernel drops the lock when the process dies, so a killed synth never leaves it held.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lib.errors import SynthError

WAIT_SECONDS = 120


@contextmanager
def locked_directory(directory: Path, shown: Path) -> Iterator[int]:
    """Hold an exclusive lock on ``directory``; yields its descriptor, for ``*at`` calls."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SynthError(
                        f"another synth has been writing beside {shown} (in {directory}) for "
                        f"{WAIT_SECONDS} s: wait for it to finish, or stop it"
                    ) from None
                time.sleep(0.05)
        yield descriptor
    finally:
        os.close(descriptor)  # closing the last descriptor releases the lock
