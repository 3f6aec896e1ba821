"""``python -m tests.outdir.paused_entry READY POINT ARGS...``: main.py's own run, paused.

Like ``paused_synth``, but through ``lib.entry.run`` (what main.py calls), so the signal
handlers are installed before the synthesizer is imported and kept until exit. At POINT the
process writes READY and waits until a signal has arrived (an interrupting one raises out of
the wait; a noted one ends it), so a test can signal at a known moment:

- ``import``: while ``lib.cli`` is being imported (the ~0.1 s before the synth's window);
- ``before-swap``: in the write, with jsii's Node process alive;
- ``after-swap``: the output swapped in, the previous one at the staging path (READY holds its
  name); it waits for READY + ``.go`` instead of a signal, so a test can change that path;
- ``removing-previous``: the output swapped in, the previous one about to be removed from the
  staging path (a signal must not leave it half-removed there);
- ``after-write``: the output complete, the report not printed yet;
- ``at-exit``: in an ``atexit`` callback that runs just before jsii stops its Node process;
- ``finalizing``: in Python's finalization, after every ``atexit`` callback (a finalizer that
  runs as the modules are torn down); it waits for READY + ``.go`` instead of a signal, as a
  signal that arrives there may not be noted by any handler.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

import lib.entry
import lib.signals


def wait_for_signal(ready: Path, point: str) -> None:
    ready.write_text(point)
    deadline = time.monotonic() + 60
    while lib.signals.received_signal() is None and time.monotonic() < deadline:
        time.sleep(0.01)


class _PauseAtImport:
    """A meta path finder that pauses when ``lib.cli`` is first looked up, then finds nothing
    (the ordinary finders import it)."""

    def __init__(self, ready: Path) -> None:
        self.ready = ready

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "lib.cli":
            sys.meta_path.remove(self)
            wait_for_signal(self.ready, "import")
        return None


class _Finalizer:
    """Runs ``action`` when it is destroyed: kept in a module global, as the modules are torn
    down in Python's finalization, after every ``atexit`` callback."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action

    def __del__(self) -> None:
        self.action()


def _pause_in_finalization(ready: Path) -> Callable[[], None]:
    # Bound now: by the time it runs, module globals and builtins may be gone.
    paths = (os.fsencode(ready), os.fsencode(f"{ready}.go"))
    create, write, close, exists, sleep = os.open, os.write, os.close, os.path.exists, time.sleep
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    now = time.monotonic

    def pause() -> None:
        deadline = now() + 60
        descriptor = create(paths[0], flags, 0o644)
        write(descriptor, b"finalizing")
        close(descriptor)
        while not exists(paths[1]) and now() < deadline:
            sleep(0.01)

    return pause


_AT_TEARDOWN: list[_Finalizer] = []


def paused_run(ready: Path, point: str) -> int:
    if point == "import":
        sys.meta_path.insert(0, _PauseAtImport(ready))
    elif point == "before-swap":
        from lib.outdir import exchange

        swap = exchange.exchange_entries

        def paused_exchange(directory_fd: int, first: str, second: str) -> None:
            wait_for_signal(ready, point)
            swap(directory_fd, first, second)

        exchange.exchange_entries = paused_exchange
    elif point == "after-swap":
        from lib.outdir import exchange

        swap_first = exchange.exchange_entries

        def exchange_then_wait(directory_fd: int, first: str, second: str) -> None:
            swap_first(directory_fd, first, second)
            ready.write_text(first)
            go, deadline = Path(f"{ready}.go"), time.monotonic() + 60
            while not go.exists() and time.monotonic() < deadline:
                time.sleep(0.01)

        exchange.exchange_entries = exchange_then_wait
    elif point == "removing-previous":
        from lib.outdir import writer

        remove_previous = writer._remove_previous

        def wait_then_remove(target: writer.OutputTarget, previous: Path) -> tuple[str, ...]:
            wait_for_signal(ready, point)
            return remove_previous(target, previous)

        writer._remove_previous = wait_then_remove
    elif point == "finalizing":
        _AT_TEARDOWN.append(_Finalizer(_pause_in_finalization(ready)))
    else:
        from lib import cli

        print_report: Callable[..., int] = cli._print_report

        def paused_report(*args: object, **kwargs: object) -> int:
            if point == "after-write":
                wait_for_signal(ready, point)
                return print_report(*args, **kwargs)
            code = print_report(*args, **kwargs)
            atexit.register(wait_for_signal, ready, point)  # runs before jsii's own stop
            return code

        cli._print_report = paused_report
    return lib.entry.run()


if __name__ == "__main__":
    ready_file, pause_point, *arguments = sys.argv[1:]
    sys.argv = [sys.argv[0], *arguments]
    sys.exit(paused_run(Path(ready_file), pause_point))
