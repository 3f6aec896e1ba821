"""Where the time of one synth goes: ``lib.synthesis.synthesize`` step by step, each timed.

    python -m benchmarks.phases --outdir DIR [--apps N]    (from the project root)

Prints one JSON line: phase name -> seconds under ``phases``, the wall-clock times ``main``
started and ended, and a candidate fix measured on the same objects (``alternatives``). The
steps are those of ``synthesize`` for a plain mode environment (dev), called in the same order
with the same arguments; ``run.py`` checks that the files written here hold the same objects as
the bare program's, so a drift from ``lib/synthesis.py`` that changes the output shows. Phases
shared with ``benchmarks/bare_cdk8s_plus.py --timings`` carry the same names.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.bare_cdk8s_plus import BUILD, IMPORT_CDK8S, RENDER, TO_JSON, WRITE

if TYPE_CHECKING:
    from lib.output import ManifestFile, RenderedFile

IMPORT_LIB = "import lib (PyYAML, lib.*)"
IMPORT_CHARTS = "import charts, lib.constructs"
# Our steps before any construct exists: the checks the bare program does not have.
CHECKS = (
    "environment_named",
    "prepare_output (refusals, git)",
    "inspect_encrypted_file",
    "demo_identity_for",
    "decrypt (one sops run)",
    "parse_secrets",
    "wire",
    "_check_redis_password",
    "check_proxy_config",
    "check_gateway_secrets",
    "secrets digests (HMAC)",
    "check_jsii_can_start",
)
REFUSE_CIPHERTEXT = "refuse_ciphertext"


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--outdir", type=Path, required=True)
    parser.add_argument("--apps", type=int, default=0, help="extra consumer apps (default 0)")
    started_at = time.time()  # wall clock, comparable with run.py's: the split of start-up
    args = parser.parse_args(argv)
    phase = Phases()

    with phase(IMPORT_LIB):
        from benchmarks.ours_driver import environments_with_apps
        from lib.environments import environment_named
        from lib.jsii_runtime import check_jsii_can_start, node_failures_told
        from lib.outdir import prepare_output, write_output
        from lib.output import RenderedFile, refuse_ciphertext, render
        from lib.project import PROJECT_ROOT, shown
        from lib.proxy_config.checks import check_proxy_config
        from lib.secrets.demo_key import demo_identity_for
        from lib.secrets.encrypted_file import inspect_encrypted_file
        from lib.secrets.gateway_secrets import AppKeyRequest, check_gateway_secrets
        from lib.secrets.model import parse_secrets
        from lib.secrets.sops import decrypt
        from lib.specs.gateway_access import KEY_VARIABLE
        from lib.synthesis import _check_redis_password, _secrets_digests
        from lib.wiring import wire

    environments = environments_with_apps(args.apps)
    with phase("environment_named"):
        environment = environment_named("dev", environments)
    secrets_path = shown(PROJECT_ROOT / environment.secrets_file)
    with phase("prepare_output (refusals, git)"):
        output = prepare_output(args.outdir, secrets_file=secrets_path, plaintext=True)
    with phase("inspect_encrypted_file"):
        encrypted = inspect_encrypted_file(secrets_path)
    with phase("demo_identity_for"):
        identity = demo_identity_for(encrypted, environment)
    with phase("decrypt (one sops run)"):
        document = decrypt(encrypted, identity=identity)
    with phase("parse_secrets"):
        secrets = parse_secrets(document, secrets_path, environment.litellm_group)
    with phase("wire"):
        wiring = wire(environment, secrets)
    litellm_keys = wiring.keys_reaching(secrets, wiring.litellm_groups)
    where = f"lib/environments.py, environment '{environment.name}'"
    secrets_hint = f"add it to group '{wiring.litellm_groups[0]}' with `sops {secrets_path}`"
    with phase("_check_redis_password"):
        _check_redis_password(environment, litellm_keys, where, secrets_hint)
    with phase("check_proxy_config"):
        check_proxy_config(
            environment.proxy_config(),
            (*litellm_keys, *environment.litellm_env(), *environment.litellm_secret_env()),
            where=where,
            secrets_hint=secrets_hint,
        )
    with phase("check_gateway_secrets"):
        database = environment.database_connection
        gateway_secrets = check_gateway_secrets(
            secrets,
            litellm_group=wiring.litellm_groups[0],
            database_password_key=database.password_key if database is not None else None,
            apps=[
                AppKeyRequest(app=app.name, group=app.name, key=KEY_VARIABLE)
                for app, _ in environment.gateway_apps
            ],
            where=where,
        )
    with phase("secrets digests (HMAC)"):
        digests = _secrets_digests(secrets, wiring, environment)

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    with phase("check_jsii_can_start"):
        check_jsii_can_start()
    # synthesize() wraps everything that talks to Node in node_failures_told(); so does this.
    with node_failures_told():
        with phase(IMPORT_CDK8S):
            import cdk8s
            import cdk8s_plus_28  # noqa: F401 - imported for its cost: it loads its assembly
            import constructs  # noqa: F401
        with phase(IMPORT_CHARTS):
            from charts.manifests import build_manifests

        # build_manifests builds the constructs and calls Chart.to_json once per chart: time
        # those calls apart, so that building compares with the bare program's building.
        to_json: Callable[[Any], Any] = cdk8s.Chart.to_json

        def timed_to_json(chart: Any) -> Any:
            with phase(TO_JSON):
                return to_json(chart)

        cdk8s.Chart.to_json = timed_to_json  # type: ignore[method-assign,assignment]
        started = time.perf_counter()
        manifests = build_manifests(environment, secrets, wiring, digests, gateway_secrets)
        phase.seconds[BUILD] = time.perf_counter() - started - phase.seconds[TO_JSON]
        cdk8s.Chart.to_json = to_json  # type: ignore[method-assign,assignment]

    files = []
    for manifest in manifests:
        with phase(RENDER):
            text = render(manifest.objects)
        with phase(REFUSE_CIPHERTEXT):
            refuse_ciphertext(manifest.name, text)
        files.append(RenderedFile(name=manifest.name, text=text, private=manifest.private))
    with phase(WRITE):
        write_output(output, files)

    python_max_rss_mib = _python_max_rss_mib()
    measured = time.perf_counter()
    alternatives = _alternatives(manifests, files)
    report = {
        "phases": phase.seconds,
        "alternatives": alternatives,
        # Not part of a synth: run.py takes it out of this process's wall time.
        "alternatives_seconds": time.perf_counter() - measured,
        "started_at": started_at,
        "ended_at": time.time(),
        "python_max_rss_mib": python_max_rss_mib,
    }
    print(json.dumps(report), flush=True)
    gc.freeze()  # as main.py does: the exit phase is then main.py's
    return 0


def _alternatives(
    manifests: Sequence[ManifestFile], files: Sequence[RenderedFile]
) -> dict[str, float | bool]:
    """A candidate fix, measured on the same objects: libyaml's emitter instead of PyYAML's
    pure-Python one, with the same representer (and whether it writes the same bytes)."""
    import yaml

    class CDumper(yaml.CSafeDumper):
        pass

    def represent_str(dumper: CDumper, value: str) -> yaml.ScalarNode:  # as lib/output.py's
        if "\n" in value:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)

    CDumper.add_representer(str, represent_str)
    started = time.perf_counter()
    texts = [
        yaml.dump_all(
            manifest.objects,
            Dumper=CDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
        )
        for manifest in manifests
    ]
    return {
        f"{RENDER} with libyaml (CSafeDumper)": time.perf_counter() - started,
        "libyaml output identical": texts == [rendered.text for rendered in files],
    }


def _python_max_rss_mib() -> float:
    """Peak RSS of this Python process alone (Node's is jsii's child process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


if __name__ == "__main__":
    raise SystemExit(main())
