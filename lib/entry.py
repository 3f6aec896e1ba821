"""main.py's whole run: handlers first, then the imports, then the synth; one line for what
fails. The only module that imports lib/cli.py (late, once the handlers are in); lib/cli.py
imports the signal handling (lib/signals.py) and the error line (lib/errors.py), never this."""

from __future__ import annotations

from lib.errors import SynthError, print_error
from lib.signals import (
    Interrupted,
    ignore_signals_after_exit_callbacks,
    install_signal_handlers,
    quiet_stderr,
    settle,
)


def run() -> int:
    """main.py: handlers first, then the imports, then the synth; one line for what fails."""
    try:
        ignore_signals_after_exit_callbacks()  # first registered, last run
        install_signal_handlers()
        try:
            from lib.cli import main  # the synthesizer and what it imports: ~0.1 s
        except (SynthError, TypeError, NameError) as exc:
            # A slip in the environments table, refused as it is built; anything else is a bug.
            from lib.table_slips import slip_line

            line = slip_line(exc)
            if line is None:
                raise
            settle()
            return print_error(line)
        return main()
    except Interrupted as exc:
        # Before the synth's own window (the imports, parsing the arguments), or, rarely, in
        # the instant between its failure and its line: nothing half-written is left either way.
        settle()
        code = print_error(
            f"interrupted by {exc.name}: nothing half-written was left (the output directory "
            "is as it was, or complete); run the synth again"
        )
        quiet_stderr()
        return code
    finally:
        settle()
