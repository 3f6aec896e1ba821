"""``python -m tests.outdir.paused_synth READY POINT ARGS...``: the real CLI, paused in the write.

POINT is ``before-swap`` (the staging directory holds the complete new output, plaintext
included) or ``after-swap`` (the output is swapped in; the staging path holds the previous
output). At that point the process writes READY and sleeps, so a test can deliver a signal at
a known moment instead of racing a write that takes milliseconds. Nothing else is changed: the
signal handlers, the cleanup and the exit are the CLI's own.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import lib.outdir.exchange
from lib.cli import main


def paused_run(ready: Path, point: str, argv: list[str]) -> int:
    swap = lib.outdir.exchange.exchange_entries

    def paused_exchange(directory_fd: int, first: str, second: str) -> None:
        if point == "after-swap":
            swap(directory_fd, first, second)
        ready.write_text(first)  # the staging directory's name
        time.sleep(60)
        if point == "before-swap":
            swap(directory_fd, first, second)

    lib.outdir.exchange.exchange_entries = paused_exchange
    return main(argv)


if __name__ == "__main__":
    sys.exit(paused_run(Path(sys.argv[1]), sys.argv[2], sys.argv[3:]))
