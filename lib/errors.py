"""The one error type users see."""


class SynthError(Exception):
    """A mistake in the user's input or setup, told as one sentence: what, where, what to do.

    The CLI prints it as ``error: <message>`` and exits 1. Messages never contain a secret
    value: they name files, groups and keys only. Any other exception is a bug in this project
    and keeps its traceback.
    """
