"""What holds from the first line of main.py to the process's last: the signal handlers.

Imports nothing heavy (the standard library only), so that main.py can install the handlers
before it imports the synthesizer: Ctrl-C during the ~0.1 s of imports is one ``error:`` line
too, not a KeyboardInterrupt traceback.

The handlers stay until the process exits. While the synth works they raise ``Interrupted``, so
every cleanup on the way out runs; a step that must not be cut in half holds the signal until
it is done (``signals_held``). Once the synth has finished (written, or refused with its own
line) they only note the signal: the report is printed, jsii stops its Node process in its
``atexit`` callback, and the process exits with the status it had, because nothing is left to
stop; after the last ``atexit`` callback the signals are ignored, as Python's finalization
would otherwise restore their default action. A signal in that last phase (or any signal, once
its line is printed) also silences stderr: nothing that follows the outcome is for the user.
A terminal's Ctrl-C does not reach Node, which runs in a process group of its own
(lib/jsii_runtime.py): only this process decides what a signal does.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing and collections.abc cost milliseconds before the handlers are in
    from collections.abc import Callable, Iterator
    from types import FrameType
    from typing import TextIO

# What `make`, CI runners, `timeout`, a closed terminal and Ctrl-C send. Installed in this
# order: SIGTERM last, so a process seen catching SIGTERM (``SigCgt`` in /proc/PID/status;
# Python itself catches only SIGINT) has all three handlers in, raising already.
INTERRUPTING_SIGNALS = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal arrived. A BaseException, like KeyboardInterrupt, so no ``except Exception``
    on the way (ours or a library's) swallows it before the cleanups have run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class _SignalState:
    """Which signals arrived, and what one does now: ``raising`` (it interrupts the synth),
    ``held`` (a step that must not be cut in half is running: raised once it is done) or
    neither (the synth is over: noted)."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.raising = False
        self.held = False
        self.installed = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        first = not self.received
        self.received.append(signum)
        if self.held:
            return
        if not self.raising:
            quiet_stderr()
        elif first:
            # Only the first signal raises: a second one must not cut the cleanup short.
            raise Interrupted(signum)


_STATE = _SignalState()


def install_signal_handlers() -> None:
    """From now until exit, SIGTERM, SIGHUP and SIGINT raise ``Interrupted`` (until the synth
    is over, see ``settle``). Signals the caller ignores (``nohup``, background jobs) stay
    ignored. The caller is inside its ``try`` already: a signal arriving between two of these
    calls raises ``Interrupted`` like any later one."""
    _STATE.raising = True
    _STATE.installed = True
    for signum in INTERRUPTING_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _STATE.handle)


def ignore_signals_after_exit_callbacks() -> None:
    """Once the ``atexit`` callbacks have run (jsii's stop of Node among them), Python's
    finalization puts back the default action of every signal that has a Python handler: a
    Ctrl-C in those last milliseconds would kill a finished synth (exit status 130, no line).
    Registered before any other callback, this one runs last: from then on these signals are
    ignored, as nothing is left that they could stop."""
    atexit.register(_ignore_interrupting_signals)


def _ignore_interrupting_signals() -> None:
    for signum in INTERRUPTING_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def settle() -> None:
    """The synth is over: a signal from now on is noted, not raised."""
    _STATE.raising = False


@contextmanager
def signals_held() -> Iterator[None]:
    """A step that a signal must not cut in half (naming a directory it creates, removing one it
    has begun to remove): a signal during it is raised as ``Interrupted`` once it is done. Does
    nothing outside the synth's window (settled, or no handlers installed)."""
    if not _STATE.raising or _STATE.held:
        yield
        return
    already = len(_STATE.received)
    _STATE.held = True
    try:
        yield
    finally:
        _STATE.held = False
    if already == 0 and _STATE.received:
        raise Interrupted(_STATE.received[0])


def received_signal() -> int | None:
    return _STATE.received[0] if _STATE.received else None


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """The synth's window. Under main.py the handlers are already installed and stay (settled
    on the way out); called in-process (tests), it installs them and restores the previous ones.
    """
    if _STATE.installed:
        try:
            yield
        finally:
            settle()
        return
    previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {
        signum: signal.getsignal(signum) for signum in INTERRUPTING_SIGNALS
    }
    try:
        install_signal_handlers()
        yield
    finally:
        _STATE.raising = False
        _STATE.held = False
        _STATE.installed = False
        _STATE.received.clear()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def quiet_stderr() -> None:
    """Nothing more on stderr: the process is ending because of a signal, and jsii's Node child,
    cut off mid-message (or signalled on its own), would add its complaints after our line."""
    if sys.stderr is _QUIET[0] is not None:
        return
    if sys.stderr is not None:
        with suppress(OSError):
            sys.stderr.flush()
    sys.stderr = _QUIET[0] = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - until exit


_QUIET: list[TextIO | None] = [None]
