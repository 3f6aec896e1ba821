"""checkov, the real scanner (pinned in pyproject.toml, in .venv-checkov), over every output.

One checkov run scans the output of every environment and secret mode, plus two outputs made
here: prod with every image pinned by digest (so the digest skip is proven unneeded there),
and a deliberately weakened copy of the LiteLLM Deployment (so the scan is proven to see a
regression). The only failed checks allowed are the skips in tests/checkov-skips.yaml.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from lib.environments import ENVIRONMENTS, SecretMode
from lib.project import PROJECT_ROOT
from lib.specs.image import ImagePolicy, ImageRef
from lib.synthesis import SynthReport, SynthRequest, synthesize
from tests.helpers import FAKE_SECRETS, encrypt_document, new_age_key

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
SKIPS_FILE = Path(__file__).with_name("checkov-skips.yaml")
DIGEST_CHECK = "CKV_K8S_43"
WEAKENED = "weakened"
# Outputs made from the shipped environments, by directory name.
SHIPPED = ("dev", "prod", "dev-sops")


@dataclass(frozen=True)
class Failure:
    case: str
    check: str
    resource: str


def _skips() -> dict[str, str]:
    entries = yaml.safe_load(SKIPS_FILE.read_text(encoding="utf-8"))
    return {entry["check"]: entry["reason"] for entry in entries}


def _test_digest(name: str) -> str:
    """A digest made up here, for a test that never pulls: clearly not a real image's."""
    return "sha256:" + hashlib.sha256(f"test image {name}".encode()).hexdigest()


def _pinned(image: ImageRef) -> ImageRef:
    return replace(image, digest=_test_digest(image.repository))


def _synthesize_cases(root: Path, secrets_file: Path) -> dict[str, SynthReport]:
    """The shipped environments (dev also in SOPS mode), and prod pinned by digest."""
    dev, prod = ENVIRONMENTS["dev"], ENVIRONMENTS["prod"]
    pinned_prod = replace(
        prod,
        gateway=replace(prod.gateway, image=_pinned(prod.gateway.image)),
        apps=tuple(replace(app, image=_pinned(app.image)) for app in prod.apps),
        image_policy=ImagePolicy(require_digests=True),
    )
    cases = {
        "dev": ("dev", ENVIRONMENTS),
        "prod": ("prod", ENVIRONMENTS),
        "dev-sops": ("dev", {"dev": replace(dev, secret_mode=SecretMode.SOPS)}),
        "prod-digests": ("prod", {"prod": pinned_prod}),
    }
    return {
        case: synthesize(
            SynthRequest(environment=env, outdir=root / case, secrets_file=secrets_file),
            environments,
        )
        for case, (env, environments) in cases.items()
    }


def _write_weakened(root: Path, report: SynthReport) -> None:
    """The dev LiteLLM Deployment as it was before hardening: root, writable, no seccomp."""
    objects: list[Any] = list(report.objects)
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "litellm"
    ]
    weak: Any = copy.deepcopy(dict(deployment))
    pod = weak["spec"]["template"]["spec"]
    pod["securityContext"] = {"runAsNonRoot": False}
    pod["containers"][0]["securityContext"] = {
        "runAsNonRoot": False,
        "readOnlyRootFilesystem": False,
    }
    (root / WEAKENED).mkdir()
    (root / WEAKENED / "deployment.yaml").write_text(yaml.safe_dump(weak), encoding="utf-8")


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make .venv-checkov/.installed` (or `make test`)")
    root = tmp_path_factory.mktemp("checkov")
    key = new_age_key(root)
    secrets_file = encrypt_document(FAKE_SECRETS, root / "secrets.yaml", key.recipient)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
        reports = _synthesize_cases(root / "out", secrets_file)
    _write_weakened(root / "out", reports["dev"])
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(root / "out"),
            "--framework",
            "kubernetes",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        # No home of the developer's, and no telemetry or guideline downloads.
        env={**os.environ, "HOME": str(root), "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: some check failed
    output = json.loads(result.stdout)
    scanned: Mapping[str, Any] = output if isinstance(output, Mapping) else output[0]
    return scanned


def _case(file_path: str) -> str:
    return file_path.strip("/").split("/")[0]


def _failures(scan: Mapping[str, Any]) -> list[Failure]:
    return [
        Failure(_case(f["file_path"]), f["check_id"], f["resource"])
        for f in scan["results"]["failed_checks"]
    ]


def _passed(scan: Mapping[str, Any]) -> list[Failure]:
    return [
        Failure(_case(f["file_path"]), f["check_id"], f["resource"])
        for f in scan["results"]["passed_checks"]
    ]


def test_checkov_every_output_fails_only_skipped_checks(scan: Mapping[str, Any]) -> None:
    skips = _skips()
    unexpected = [f for f in _failures(scan) if f.case != WEAKENED and f.check not in skips]
    assert unexpected == []
    scanned = {f.case for f in _passed(scan)}
    assert scanned >= {*SHIPPED, "prod-digests"}, "checkov scanned fewer outputs than written"


def test_checkov_skips_have_reasons_and_are_all_needed(scan: Mapping[str, Any]) -> None:
    skips = _skips()
    assert all(len(reason.split()) >= 8 for reason in skips.values())
    needed = {f.check for f in _failures(scan) if f.case in SHIPPED}
    assert set(skips) == needed, "a skip no output needs: remove it from checkov-skips.yaml"


def test_checkov_digest_check_passes_when_images_are_pinned(scan: Mapping[str, Any]) -> None:
    assert not [f for f in _failures(scan) if f.case == "prod-digests" and f.check == DIGEST_CHECK]
    pinned = {
        f.resource for f in _passed(scan) if f.case == "prod-digests" and f.check == DIGEST_CHECK
    }
    # Every workload: the Jobs and the CronJob run LiteLLM's image, pinned with it.
    assert {name.rsplit("-", 1)[0] if name.startswith("Job.") else name for name in pinned} == {
        "Deployment.seance.litellm",
        "Deployment.seance.backend",
        "Deployment.seance.chatbot",
        "Job.seance.litellm-migrate",
        "Job.seance.litellm-keys",
        "CronJob.seance.litellm-keys",
    }


def test_checkov_sees_a_weakened_pod(scan: Mapping[str, Any]) -> None:
    """Guards the tests above: the scan reports what hardening fixed once it is undone."""
    weakened = {f.check for f in _failures(scan) if f.case == WEAKENED}
    # Root containers (CKV_K8S_23, CKV_K8S_40), no seccomp (CKV_K8S_31), writable root (22).
    assert {"CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_31"} <= weakened
