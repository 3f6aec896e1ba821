"""Entry point: `python main.py` (what `make synth` and `cdk8s synth` run)."""

import sys

from lib.cli import main

if __name__ == "__main__":
    sys.exit(main())
