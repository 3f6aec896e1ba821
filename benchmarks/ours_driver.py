"""Our synth of the dev environment with N extra consumer apps, in one fresh process.

    python -m benchmarks.ours_driver --outdir DIR [--apps N]    (from the project root)

It calls ``lib.synthesis.synthesize`` exactly as ``main.py`` does, on the committed example
``secrets/secrets.yaml``, with the dev environment's ``apps`` extended by the same extra apps
``benchmarks/bare_cdk8s_plus.py --apps N`` builds. With ``--apps 0`` it is ``python main.py``
minus argument parsing and the printed report; like ``main.py`` it calls ``gc.freeze()`` before
exit, and ``--no-gc-freeze`` leaves that out, so that ``run.py`` measures what it saves.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
from collections.abc import Sequence
from pathlib import Path

from benchmarks.bare_cdk8s_plus import APP_IMAGE, APP_PORT, extra_app
from lib.environments import ENVIRONMENTS, Environment
from lib.specs.apps import ConsumerAppSpec, HttpProbes
from lib.specs.image import ImageRef
from lib.synthesis import SynthRequest, synthesize


def environments_with_apps(extra: int) -> dict[str, Environment]:
    dev = ENVIRONMENTS["dev"]
    apps = [
        ConsumerAppSpec(
            name=name,
            image=ImageRef.parse(APP_IMAGE),
            port=APP_PORT,
            secret_groups=("stripe",),
            probes=HttpProbes(readiness_path="/", liveness_path="/"),
            args=args,
        )
        for name, args in map(extra_app, range(extra))
    ]
    return {"dev": dataclasses.replace(dev, apps=(*dev.apps, *apps))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--outdir", type=Path, required=True)
    parser.add_argument("--apps", type=int, default=0, help="extra consumer apps (default 0)")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="skip main.py's gc.freeze() before exit: the interpreter's final garbage "
        "collection then walks every object cdk8s and jsii loaded",
    )
    args = parser.parse_args(argv)
    synthesize(
        SynthRequest(environment="dev", outdir=args.outdir), environments_with_apps(args.apps)
    )
    if not args.no_gc_freeze:
        gc.freeze()  # as main.py does
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
