"""Entry point: `python main.py` (what `make synth`, `cdk8s synth` and Tilt run)."""

import sys

from lib.errors import SynthError

try:
    from lib.cli import main
except SynthError as exc:  # a bad value in the environments table, refused as it is built
    print(f"error: lib/environments.py: {exc}", file=sys.stderr)
    sys.exit(1)

if __name__ == "__main__":
    sys.exit(main())
