"""What cdk8s (through jsii) needs to start, checked before it starts, and its failures told.

jsii runs the cdk8s libraries in a Node.js child process. Without ``node`` on PATH it fails with
a traceback (and a second one from its own cleanup); with a temporary directory that is not a
writable directory Node cannot unpack the libraries. Python's ``tempfile`` would quietly fall
back to /tmp, Node does not: its ``os.tmpdir()`` is the first non-empty one of ``TMPDIR``,
``TMP`` and ``TEMP``, else /tmp, and that is the directory probed.

Once started, Node may still fail: a `node` that is a broken version-manager shim exits at once,
one killed mid-synth stops answering, one that never answers would hang the synth for ever.
jsii reports the first two as a JSON error on an empty line or a broken pipe, from inside its
``_NodeProcess``; ``node_failures_told`` turns those into one line naming Node, and bounds the
whole conversation with Node by ``NODE_TIMEOUT_SECONDS`` (jsii itself has no timeout).

``node_failures_told`` also starts Node in a process group of its own. A terminal's Ctrl-C is
SIGINT to the whole foreground process group: in ours, Node would get it too, its jsii wrapper
would end its worker mid-conversation and print "Error on jsii API channel ... ECONNRESET" on
our stderr (through jsii's stderr thread) before our own line, or during a finished synth's
exit. Apart, Node hears only from this process: the handlers of lib/signals.py decide what a
signal does, and jsii stops Node at exit as always (a Node whose Python was killed sees its
input end, and exits).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from types import FrameType, TracebackType
from typing import Any

from lib.errors import SynthError
from lib.signals import signals_held

# Starting Node and loading the cdk8s libraries takes well under a second; a minute means it
# will not answer.
NODE_TIMEOUT_SECONDS = 60.0
# Node's os.tmpdir() on Linux and macOS: the first of these that is set and not empty.
_NODE_TMPDIR_VARIABLES = ("TMPDIR", "TMP", "TEMP")


def check_jsii_can_start(environ: Mapping[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    node = environ.get("JSII_NODE", "node")
    if shutil.which(node, path=environ.get("PATH", os.defpath)) is None:
        raise SynthError(
            f"Node.js is needed to build the manifests (cdk8s runs on it), but `{node}` is not "
            "on PATH: install Node.js 18 or newer, or add it to PATH"
        )
    variable = next((name for name in _NODE_TMPDIR_VARIABLES if environ.get(name)), None)
    temporary = environ[variable] if variable else "/tmp"  # noqa: S108 - Node's own default
    try:
        with signals_held():  # made and removed, whatever arrives between the two
            os.rmdir(tempfile.mkdtemp(prefix=".seance-synth-probe-", dir=temporary))
    except OSError as exc:
        named = f"{variable}={temporary}" if variable else f"{temporary} (no TMPDIR, TMP or TEMP)"
        advice = (
            f"point {variable} at a writable directory, or unset it"
            if variable
            else "make it a writable directory, or set TMPDIR to one"
        )
        raise SynthError(
            f"{named} is not a usable directory ({exc.strerror}), and Node, which cdk8s runs "
            f"on, keeps its files there: {advice}"
        ) from None


class _NodeTimeout(Exception):
    pass


@contextlib.contextmanager
def node_failures_told(environ: Mapping[str, str] | None = None) -> Iterator[None]:
    """Around everything that talks to Node: its exit, its death or its silence is one line."""
    environ = os.environ if environ is None else environ
    node = environ.get("JSII_NODE", "node")
    advice = (
        f"check that `{node} --version` works (a broken version-manager shim?), or point "
        "JSII_NODE at a working node, then run the synth again"
    )
    armed = threading.current_thread() is threading.main_thread()
    previous: Any = None
    jsii_process_module = _jsii_process_module()
    jsii_process_module.subprocess = _NodeApart
    if armed:

        def give_up(signum: int, frame: FrameType | None) -> None:
            node_process = _node_process_in(frame)
            if node_process is None:  # not waiting on Node at this instant: look again soon
                signal.setitimer(signal.ITIMER_REAL, 1.0)
                return
            node_process._process.kill()
            _close_quietly(node_process)
            raise _NodeTimeout

        previous = signal.signal(signal.SIGALRM, give_up)
        signal.setitimer(signal.ITIMER_REAL, NODE_TIMEOUT_SECONDS)
    try:
        yield
    except _NodeTimeout:
        raise SynthError(
            f"Node.js (`{node}`), which cdk8s runs on, did not answer within "
            f"{NODE_TIMEOUT_SECONDS:g} s, so the manifests were not built: {advice}"
        ) from None
    except (ValueError, OSError) as exc:  # jsii: an empty line is not JSON; a broken pipe
        node_process = _node_process_in(_innermost_frame(exc.__traceback__))
        if node_process is None:
            raise
        try:
            status = node_process._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            raise exc from None  # Node is still there: not its failure
        _close_quietly(node_process)
        how = (
            f"was killed by {signal.Signals(-status).name}"
            if status < 0
            else f"exited with status {status}"
        )
        raise SynthError(
            f"Node.js (`{node}`), which cdk8s runs on, {how} before the manifests were built: "
            f"{advice}"
        ) from None
    finally:
        jsii_process_module.subprocess = subprocess
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


class _NodeApart:
    """``subprocess`` as jsii's process module sees it while Node may start: the same, except
    that what it starts (Node, the only thing it starts) gets a process group of its own."""

    PIPE = subprocess.PIPE
    TimeoutExpired = subprocess.TimeoutExpired

    @staticmethod
    def Popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(*args, process_group=0, **kwargs)


def _jsii_process_module() -> Any:
    import jsii._kernel.providers.process

    return jsii._kernel.providers.process


def _innermost_frame(trace: TracebackType | None) -> FrameType | None:
    frame = None
    while trace is not None:
        frame, trace = trace.tb_frame, trace.tb_next
    return frame


def _node_process_in(frame: FrameType | None) -> Any:
    """jsii's ``_NodeProcess`` whose method ``frame`` (or a caller of it) is running, if any."""
    from jsii._kernel.providers.process import _NodeProcess

    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, _NodeProcess):
            return candidate
        frame = frame.f_back
    return None


def _close_quietly(node_process: Any) -> None:
    """Close jsii's pipe to a Node that is gone, so that jsii's own stop at exit does not write
    to it and print a broken pipe after our line."""
    with contextlib.suppress(OSError):
        node_process._process.stdin.close()
