"""``python main.py [--env NAME] [--secrets FILE] [--outdir DIR]``.

Exit 0 on success. A user error exits 1 with one line ``error: ...`` on stderr. Anything else
is a bug in this project and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.environments import DEFAULT_ENVIRONMENT, ENVIRONMENTS
from lib.errors import SynthError
from lib.output import link_into
from lib.synthesis import SynthRequest, synthesize

DEFAULT_OUTDIR = Path("dist")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="Synthesize Kubernetes manifests for the LiteLLM gateway from SOPS secrets.",
    )
    parser.add_argument(
        "--env",
        default=DEFAULT_ENVIRONMENT,
        help=f"environment: {', '.join(ENVIRONMENTS)} (default {DEFAULT_ENVIRONMENT})",
    )
    parser.add_argument(
        "--secrets", type=Path, default=None, help="SOPS file to use instead of the environment's"
    )
    parser.add_argument(
        "--outdir",
        type=Path,
        default=None,
        help=f"output directory (default {DEFAULT_OUTDIR}/)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    outdir: Path = args.outdir or DEFAULT_OUTDIR
    # Set by `cdk8s synth`, which deletes that directory first and hides the app's stdout.
    cdk8s_cli_outdir = os.environ.get("CDK8S_OUTDIR")
    try:
        report = synthesize(
            SynthRequest(environment=args.env, outdir=outdir, secrets_file=args.secrets)
        )
    except SynthError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    if cdk8s_cli_outdir:
        link_into(Path(cdk8s_cli_outdir), report.outdir, report.files)
    for line in report.lines():
        print(line, file=sys.stderr if cdk8s_cli_outdir else sys.stdout)
    return 0


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())
