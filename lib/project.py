"""Where the project is, and how paths are shown to the person who ran the command.

Paths written in the project (the environments' secrets files, the default ``dist/``) are
relative to the project, wherever the command runs; paths given on the command line are
relative to the current directory, as everywhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTDIR = PROJECT_ROOT / "dist"


def shown(path: Path) -> Path:
    """``path`` relative to the current directory when it lies below it, else absolute: a
    report never says ``dist/`` about a directory somewhere else."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute
