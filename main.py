"""Entry point: `python main.py` (what `make synth`, `cdk8s synth` and Tilt run).

Kept tiny: lib/entry.py installs the signal handlers before the synthesizer is imported, so a
signal at any moment ends in one line."""

import sys

from lib.entry import run

if __name__ == "__main__":
    sys.exit(run())
