"""`make lock-images` (``python -m lib.images``) against a real distribution registry on
127.0.0.1 with images pushed by skopeo, and the synth that reads what it wrote."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lib.environments import ENVIRONMENTS, Environment, images, with_images
from lib.errors import SynthError
from lib.images.__main__ import main
from lib.images.lock import read_lock
from lib.specs.image import ImagePolicy, ImageRef
from lib.synthesis import SynthRequest, synthesize
from tests.helpers import PROJECT_ROOT, AgeKey, clean_env
from tests.oci_registry import LocalRegistry, image_layout, multi_arch_layout
from tests.proxy_harness import free_port

DEV = ENVIRONMENTS["dev"]
# Where dev's workloads find their images in the local registry, by tag as written.
TARGETS = {
    "litellm": "litellm-non_root:v1.106.12",
    "backend": "http-echo:1.0.0",
    "chatbot": "http-echo:1.0.0",
    "valkey": "valkey:8.1.1",
    "postgres": "postgres:17.6-bookworm",
}


def environment_on(registry: LocalRegistry, prefix: str, **changes: Any) -> Environment:
    """dev, its images named in the local registry under ``prefix``/."""
    at_registry = {
        workload: ImageRef.parse(f"{registry.host}/{prefix}/{target}")
        for workload, target in TARGETS.items()
    }
    return replace(with_images(DEV, at_registry), **changes)


def push_all(registry: LocalRegistry, tmp_path: Path, prefix: str, content: str) -> None:
    layout = image_layout(tmp_path / f"layout-{content}", "v1", content)
    for target in TARGETS.values():
        registry.push(layout, "v1", f"{prefix}/{target}", all_platforms=False)


def lock_images(
    environment: Environment, lock: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    code = main(["--env", environment.name, "--lock", str(lock)], {environment.name: environment})
    out, err = capsys.readouterr()
    return code, out, err


def test_lock_images_writes_the_digests_the_registry_reports(
    oci_registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_all(oci_registry, tmp_path, "written", "first")
    environment = environment_on(oci_registry, "written")
    lock = tmp_path / "images.lock.yaml"

    code, out, err = lock_images(environment, lock, capsys)

    served = {
        workload: oci_registry.digest_by_client(f"written/{target}")
        for workload, target in TARGETS.items()
    }
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        *(
            f"{workload} {image} -> {served[workload]} (OCI image manifest)"
            for workload, image in images(environment).items()
        ),
        f"wrote {lock}: environment 'dev', {len(set(TARGETS.values()))} image(s) locked",
    ]
    assert dict(read_lock(lock).digests_of("dev")) == {
        str(image): served[workload] for workload, image in images(environment).items()
    }
    assert sorted(path.name for path in tmp_path.iterdir() if "lock" in path.name) == [
        "images.lock.yaml"
    ]


def test_lock_images_a_tag_pushed_again_moves_the_lock_on_the_next_run(
    oci_registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_all(oci_registry, tmp_path, "moved", "before")
    environment = environment_on(oci_registry, "moved")
    lock = tmp_path / "images.lock.yaml"
    assert lock_images(environment, lock, capsys)[0] == 0
    before = read_lock(lock).digests_of("dev")

    push_all(oci_registry, tmp_path, "moved", "after")  # the same tags, another image
    assert lock_images(environment, lock, capsys)[0] == 0
    after = read_lock(lock).digests_of("dev")

    assert before.keys() == after.keys()
    for reference in before:
        assert before[reference] != after[reference]
        tag = reference.removeprefix(f"{oci_registry.host}/")
        assert after[reference] == oci_registry.digest_by_client(tag)


def test_lock_images_locks_a_multi_arch_image_by_its_index(
    oci_registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_all(oci_registry, tmp_path, "multi", "single")
    layout = multi_arch_layout(tmp_path / "layout-multi", "multi")
    oci_registry.push(layout, "multi", f"multi/{TARGETS['litellm']}", all_platforms=True)
    environment = environment_on(oci_registry, "multi")
    lock = tmp_path / "images.lock.yaml"

    code, out, _ = lock_images(environment, lock, capsys)

    index_digest = oci_registry.digest_by_client(f"multi/{TARGETS['litellm']}")
    assert code == 0
    assert out.splitlines()[0] == (
        f"litellm {environment.gateway.image} -> {index_digest} (OCI image index)"
    )
    assert read_lock(lock).digests_of("dev")[str(environment.gateway.image)] == index_digest


def test_lock_images_unknown_tag_is_one_line_and_the_lock_is_unchanged(
    oci_registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_all(oci_registry, tmp_path, "partial", "partial")
    environment = environment_on(oci_registry, "partial")
    lock = tmp_path / "images.lock.yaml"
    assert lock_images(environment, lock, capsys)[0] == 0
    before = lock.read_bytes()
    typo = ImageRef.parse(f"{oci_registry.host}/partial/http-echo:1.0.O")
    mistyped = replace(environment, apps=(replace(environment.apps[0], image=typo),))

    code, out, err = lock_images(mistyped, lock, capsys)

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"error: environment 'dev', 'backend': image '{typo}' at http://{oci_registry.host}: the "
        "registry has no manifest for tag '1.0.O' (MANIFEST_UNKNOWN): check the tag in "
        "lib/environments.py against the image's published tags; then run `make lock-images "
        "ENV=dev` again (the lock is unchanged)"
    ]
    assert lock.read_bytes() == before


def test_lock_images_unreachable_registry_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    nowhere = replace(
        DEV, gateway=replace(DEV.gateway, image=ImageRef.parse(f"127.0.0.1:{port}/litellm:1"))
    )
    lock = tmp_path / "images.lock.yaml"

    code, out, err = lock_images(nowhere, lock, capsys)

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"error: environment 'dev', 'litellm': image '127.0.0.1:{port}/litellm:1' at "
        f"http://127.0.0.1:{port}: cannot reach the registry (Connection refused): check the "
        "registry host and port in lib/environments.py and your network; then run `make "
        "lock-images ENV=dev` again (the lock is unchanged)"
    ]
    assert not lock.exists()


def test_lock_images_then_a_synth_requiring_digests_runs_on_the_lock_alone(
    oci_registry: LocalRegistry,
    tmp_path: Path,
    fixture_secrets: Path,
    with_test_key: AgeKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_all(oci_registry, tmp_path, "strict", "strict")
    strict = environment_on(oci_registry, "strict", image_policy=ImagePolicy(require_digests=True))
    lock = tmp_path / "images.lock.yaml"
    environments = {"dev": strict}

    def synth(image_lock: Path) -> Any:
        return synthesize(
            SynthRequest(
                environment="dev",
                outdir=tmp_path / "dist",
                secrets_file=fixture_secrets,
                image_lock=image_lock,
            ),
            environments,
        )

    with pytest.raises(SynthError) as raised:
        synth(lock)  # not locked yet
    assert str(raised.value) == (
        f"lib/environments.py, environment 'dev': image '{strict.gateway.image}' of 'litellm' "
        f"is neither written with a digest nor pinned by {lock}, and the environment's "
        "image_policy requires digests: run `make lock-images ENV=dev` and commit "
        "images.lock.yaml, or append @sha256:<digest> to the image (docs/images.md)"
    )
    assert not (tmp_path / "dist").exists()

    assert lock_images(strict, lock, capsys)[0] == 0
    report = synth(lock)

    served = {w: oci_registry.digest_by_client(f"strict/{t}") for w, t in TARGETS.items()}
    rendered = {
        obj["metadata"]["name"]: obj["spec"]["template"]["spec"]["containers"][0]["image"]
        for obj in report.objects
        if obj["kind"] == "Deployment"
    }
    assert rendered == {
        workload: f"{image}@{served[workload]}" for workload, image in images(strict).items()
    }
    assert report.images_line() == "images: " + "; ".join(
        f"{workload} {image}@{served[workload]} (pinned by digest from the image lock)"
        for workload, image in images(strict).items()
    )


def test_lock_images_as_a_command_refuses_an_unknown_environment_in_one_line(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lib.images", "--env", "stagin", "--lock", str(tmp_path / "l")],
        cwd=PROJECT_ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "error: unknown environment 'stagin': use one of dev, prod, or add it to "
        "lib/environments.py"
    ]
    assert list(tmp_path.iterdir()) == []
