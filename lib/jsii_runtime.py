"""What cdk8s (through jsii) needs to start, checked before it starts.

jsii runs the cdk8s libraries in a Node.js child process. Without ``node`` on PATH it fails with
a traceback (and a second one from its own cleanup); with a ``TMPDIR`` that is not a writable
directory Node cannot unpack the libraries. Python's ``tempfile`` would quietly fall back to
/tmp, Node does not, so ``TMPDIR`` is probed as Node will use it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping

from lib.errors import SynthError


def check_jsii_can_start(environ: Mapping[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    node = environ.get("JSII_NODE", "node")
    if shutil.which(node, path=environ.get("PATH", os.defpath)) is None:
        raise SynthError(
            f"Node.js is needed to build the manifests (cdk8s runs on it), but `{node}` is not "
            "on PATH: install Node.js 18 or newer, or add it to PATH"
        )
    temporary = environ.get("TMPDIR")
    if temporary:
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".seance-synth-probe-", dir=temporary))
        except OSError as exc:
            raise SynthError(
                f"TMPDIR={temporary} is not a usable directory ({exc.strerror}), and Node, which "
                "cdk8s runs on, keeps its files there: point TMPDIR at a writable directory, or "
                "unset it"
            ) from None
