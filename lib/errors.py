"""The one error type users see."""


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
