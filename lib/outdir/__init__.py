"""The output directory: what a synth may replace, and how it replaces it.

- ``stamp``: the record of which files a synth wrote; a directory is replaced only when it is
  empty or holds exactly what its stamp lists.
- ``protected``: directories refused whatever they hold (repository roots, ``.git``, the current
  directory, anything containing the secrets file or an age key).
- ``git_guard``: plaintext never goes where ``git status`` would list it; fails closed.
- ``lock``, ``exchange``, ``writer``: one writer at a time, an atomic swap, no leftovers.
"""

from lib.outdir.writer import (
    OutputTarget,
    link_into,
    prepare_output,
    refuse_overlapping_cli_outdir,
    write_output,
)

__all__ = [
    "OutputTarget",
    "link_into",
    "prepare_output",
    "refuse_overlapping_cli_outdir",
    "write_output",
]
