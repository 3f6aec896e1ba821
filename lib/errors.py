"""The one error type users see, and the one line it is told in."""

import sys
from contextlib import suppress


class SynthError(Exception):
    """A mistake in the user's input or setup, told as one sentence: what, where, what to do.

    The CLI prints it as ``error: <message>`` and exits 1. Messages never contain a secret
    value: they name files, groups and keys only. Any other exception is a bug in this project
    and keeps its traceback.
    """


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on written as an escape (``\\x1b``,
    ``\\u202e``): control characters (C0, DEL, C1), format characters such as bidi overrides,
    and separators other than the space. Names from a secrets file reach error lines and CI
    logs, and anyone who opens a pull request can write them."""
    return "".join(
        character if character == " " or character.isprintable() else ascii(character)[1:-1]
        for character in text
    )


def print_error(message: str) -> int:
    """The one line on stderr, and exit status 1. With stderr closed (``2>&-``) it goes nowhere:
    never to stdout, which may be a pipe into kubectl."""
    _say("error", message)
    return 1


def print_warning(message: str) -> None:
    """A line on stderr about a synth that succeeded all the same (exit status 0)."""
    _say("warning", message)


def _say(kind: str, message: str) -> None:
    if sys.stderr is not None:
        # A closed pipe on stderr: there is nowhere left to say it.
        with suppress(OSError):
            print(f"{kind}: {one_line(message)}", file=sys.stderr, flush=True)


def one_line(message: str) -> str:
    """``message`` on one line (line breaks and tabs become single spaces), every character a
    terminal would act on (an ESC clearing a CI log, a bidi override) written as an escape."""
    words = message.replace("\r", " ").replace("\n", " ").replace("\t", " ").split(" ")
    return printable(" ".join(word for word in words if word))
