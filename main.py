"""Entry point: `python main.py` (what `make synth`, `cdk8s synth` and Tilt run)."""

import gc
import sys

from lib.errors import SynthError

try:
    from lib.cli import main
except SynthError as exc:  # a bad value in the environments table, refused as it is built
    print(f"error: lib/environments.py: {exc}", file=sys.stderr)
    sys.exit(1)

if __name__ == "__main__":
    status = main()
    # The interpreter's last act is a full garbage collection over every object cdk8s and jsii
    # loaded, none of which is garbage: it costs 0.1-0.2 s per synth (README, "Benchmarks").
    # Freezing moves them out of its reach. atexit handlers, jsii's Node shutdown among them,
    # still run, and the exit status is main()'s.
    gc.freeze()
    sys.exit(status)
