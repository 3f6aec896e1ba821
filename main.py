"""Entry point: `python main.py` (what `make synth`, `cdk8s synth` and Tilt run).

Kept tiny: lib/entry.py installs the signal handlers before the synthesizer is imported, so a
signal at any moment ends in one line."""

import gc
import sys

from lib.entry import run

if __name__ == "__main__":
    status = run()
    # The interpreter's last act is a full garbage collection over every object cdk8s and jsii
    # loaded, none of which is garbage: tens of milliseconds per synth (docs/benchmarks.md).
    # Freezing moves them out of its reach. atexit handlers, jsii's Node shutdown among them,
    # still run, and the exit status is run()'s.
    gc.freeze()
    sys.exit(status)
