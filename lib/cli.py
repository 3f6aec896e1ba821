"""``python main.py [--env NAME] [--secrets FILE] [--outdir DIR]``.

Exit 0 on success. A user error exits 1 with one line ``error: ...`` on stderr; so do SIGTERM,
SIGHUP and SIGINT during the synth (after the output directory is left complete and no staging
directory is left), and a report that cannot be printed (a closed stdout). A signal after the
output is complete changes nothing: the report is printed and the exit status is 0 (see
lib/signals.py). Anything else is a bug in this project and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from lib.environments import DEFAULT_ENVIRONMENT, ENVIRONMENTS
from lib.errors import SynthError, print_error, print_warning
from lib.outdir import link_into, refuse_overlapping_cli_outdir
from lib.project import DEFAULT_OUTDIR, shown
from lib.signals import Interrupted, quiet_stderr, received_signal, settle, signals_interrupt
from lib.synthesis import SynthRequest, synthesize


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
        help="output directory (default: the project's dist/, wherever you run this)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="after the report, list what the environment needs from the cluster",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Shown as the report and every message name it: absolute unless below this directory.
    outdir = shown(args.outdir or DEFAULT_OUTDIR)
    # Set by `cdk8s synth`, which deletes that directory first and hides the app's stdout.
    cdk8s_cli_outdir = os.environ.get("CDK8S_OUTDIR")
    with signals_interrupt():
        try:
            if cdk8s_cli_outdir:
                refuse_overlapping_cli_outdir(Path(cdk8s_cli_outdir), outdir)
            report = synthesize(
                SynthRequest(environment=args.env, outdir=outdir, secrets_file=args.secrets)
            )
            if cdk8s_cli_outdir:
                link_into(Path(cdk8s_cli_outdir), report.outdir, report.files)
        # Each handler settles first: a signal while it prints its line must not raise again.
        except SynthError as exc:
            settle()
            return print_error(str(exc))
        except Interrupted as exc:
            settle()
            return _error_and_quiet(_interrupted(exc.name, outdir))
        except BaseException:
            settle()
            # Ctrl-C reaches sops and git too: what fails after a signal is its consequence.
            signum = received_signal()
            if signum is not None:
                return _error_and_quiet(_interrupted(signal.Signals(signum).name, outdir))
            raise
    # The output is complete: a signal from here on is noted, not raised (lib/signals.py).
    lines = report.lines()
    if args.explain:
        lines += ["needs from the cluster:", *(f"- {line}" for line in report.prerequisites())]
    code = _print_report(lines, to_stderr=bool(cdk8s_cli_outdir), outdir=outdir)
    for warning in report.warnings:
        print_warning(warning)
    return code


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
        return print_error(
            f"the manifests were written to {outdir}, but the report cannot be printed to "
            f"{where} ({exc.strerror or exc})"
        )
    return 0


def _error_and_quiet(message: str) -> int:
    code = print_error(message)
    quiet_stderr()
    return code


def _interrupted(name: str, outdir: Path) -> str:
    if not outdir.exists():
        return f"interrupted by {name}: nothing was written to {outdir}; run the synth again"
    return (
        f"interrupted by {name}: {outdir} holds a complete output (the previous one, or the "
        "new one if it was already swapped in) and nothing half-written was left; run the "
        "synth again"
    )


if __name__ == "__main__":
    sys.exit(main())
