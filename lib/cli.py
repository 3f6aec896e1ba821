"""``python main.py [--env NAME] [--secrets FILE] [--outdir DIR]``.

Exit 0 on success. A user error exits 1 with one line ``error: ...`` on stderr; so do SIGTERM,
SIGHUP and SIGINT (after the output directory is left complete and no staging directory is
left), and a report that cannot be printed (a closed stdout). Anything else is a bug in this
project and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn

from lib.environments import DEFAULT_ENVIRONMENT, ENVIRONMENTS
from lib.errors import SynthError
from lib.outdir import link_into, refuse_overlapping_cli_outdir
from lib.synthesis import SynthRequest, synthesize

DEFAULT_OUTDIR = Path("dist")
# What `make`, CI runners, `timeout`, a closed terminal and Ctrl-C send.
INTERRUPTING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Interrupted(BaseException):
    """A signal arrived. A BaseException, like KeyboardInterrupt, so no ``except Exception``
    on the way (ours or a library's) swallows it before the cleanups have run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _ArgumentParser(argparse.ArgumentParser):
    """A usage mistake is a user error like any other: one ``error:`` line and exit 1, not
    argparse's usage block and exit 2."""

    def error(self, message: str) -> NoReturn:
        hint = "see `python main.py --help`"
        if "expected one argument" in message:
            hint += " (write a path that starts with '-' as --secrets=-name.yaml)"
        self.exit(1, f"error: {self.prog}: {message}: {hint}\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _ArgumentParser(
        prog="main.py",
        description="Synthesize Kubernetes manifests for the LiteLLM gateway from SOPS secrets.",
    )
    parser.add_argument(
        "--env",
        default=DEFAULT_ENVIRONMENT,
        help=f"environment: {', '.join(ENVIRONMENTS)} (default {DEFAULT_ENVIRONMENT})",
    )
    parser.add_argument(
        "--secrets", type=Path, default=None, help="SOPS file to use instead of the environment's"
    )
    parser.add_argument(
        "--outdir",
        type=Path,
        default=None,
        help=f"output directory (default {DEFAULT_OUTDIR}/)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    outdir: Path = args.outdir or DEFAULT_OUTDIR
    # Set by `cdk8s synth`, which deletes that directory first and hides the app's stdout.
    cdk8s_cli_outdir = os.environ.get("CDK8S_OUTDIR")
    with _signals_interrupt() as received:
        try:
            if cdk8s_cli_outdir:
                refuse_overlapping_cli_outdir(Path(cdk8s_cli_outdir), outdir)
            report = synthesize(
                SynthRequest(environment=args.env, outdir=outdir, secrets_file=args.secrets)
            )
            if cdk8s_cli_outdir:
                link_into(Path(cdk8s_cli_outdir), report.outdir, report.files)
        except SynthError as exc:
            return _error(str(exc))
        except (Interrupted, KeyboardInterrupt) as exc:
            return _error_and_quiet(_interrupted(exc, outdir))
        except BaseException:
            # Ctrl-C reaches Node and sops too: what fails after a signal is its consequence.
            if received:
                return _error_and_quiet(_interrupted(Interrupted(received[0]), outdir))
            raise
    return _print_report(report.lines(), to_stderr=bool(cdk8s_cli_outdir), outdir=outdir)


def _print_report(lines: list[str], *, to_stderr: bool, outdir: Path) -> int:
    stream = sys.stderr if to_stderr else sys.stdout
    try:
        if stream is None:  # started with that descriptor closed (`>&-`)
            raise OSError("the stream is closed")
        for line in lines:
            print(line, file=stream)
        stream.flush()
    except OSError as exc:
        if stream is not None:
            # Python flushes stdout again at exit; point it at /dev/null so that cannot fail.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        where = "standard error" if to_stderr else "standard output"
        return _error(
            f"the manifests were written to {outdir}, but the report cannot be printed to "
            f"{where} ({exc.strerror or exc})"
        )
    return 0


def _error(message: str) -> int:
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return 1


def _error_and_quiet(message: str) -> int:
    """The one line, then nothing: the process is ending because of a signal, and jsii's Node
    child, hit by the same Ctrl-C or cut off mid-message, would add its own complaints (a
    connection reset, a broken pipe at exit) to stderr after it."""
    code = _error(message)
    sys.stderr.flush()
    sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - open until exit
    return code


def _interrupted(exc: BaseException, outdir: Path) -> str:
    name = signal.Signals(exc.signum).name if isinstance(exc, Interrupted) else "SIGINT"
    if not outdir.exists():
        return f"interrupted by {name}: nothing was written to {outdir}; run the synth again"
    return (
        f"interrupted by {name}: {outdir} holds a complete output (the previous one, or the "
        "new one if it was already swapped in) and nothing half-written was left; run the "
        "synth again"
    )


@contextmanager
def _signals_interrupt() -> Iterator[list[int]]:
    """While the synth runs, SIGTERM, SIGHUP and SIGINT raise ``Interrupted``, so every cleanup
    on the way out runs. Only the first signal raises: a second one must not cut the cleanup
    short. Signals the caller ignores (``nohup``, background jobs) stay ignored."""
    received: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if received:
            return
        received.append(signum)
        raise Interrupted(signum)

    previous = {}
    for signum in INTERRUPTING_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, interrupt)
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())
