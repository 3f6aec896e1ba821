"""lib/images/pinning.py: what the synth makes of the lock, without any network."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from lib.environments import ENVIRONMENTS, images
from lib.errors import SynthError
from lib.images.lock import ImageLock
from lib.images.pinning import pin_images
from lib.specs.database import POSTGRES_IMAGE
from lib.specs.image import ImagePolicy, ImageRef

DEV = ENVIRONMENTS["dev"]
LOCK_PATH = Path("images.lock.yaml")
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
ECHO = "docker.io/hashicorp/http-echo:1.0.0"
VALKEY = "docker.io/valkey/valkey:8.1.1"


def lock_of(environment: str, digests: dict[str, str]) -> ImageLock:
    return ImageLock(MappingProxyType({environment: MappingProxyType(digests)}))


def test_pinning_a_locked_tag_renders_tag_and_digest_and_leaves_the_rest() -> None:
    pinned = pin_images(DEV, lock_of("dev", {ECHO: DIGEST_A, VALKEY: DIGEST_B}), LOCK_PATH)

    assert {workload: str(image) for workload, image in images(pinned.environment).items()} == {
        "litellm": str(DEV.gateway.image),
        "backend": f"{ECHO}@{DIGEST_A}",
        "chatbot": f"{ECHO}@{DIGEST_A}",
        "valkey": f"{VALKEY}@{DIGEST_B}",
        "postgres": str(POSTGRES_IMAGE),
    }
    assert pinned.locked == {"backend", "chatbot", "valkey"}


def test_pinning_uses_only_the_environments_own_entries() -> None:
    pinned = pin_images(DEV, lock_of("prod", {ECHO: DIGEST_A}), LOCK_PATH)
    assert pinned.environment == DEV
    assert pinned.locked == frozenset()


def test_pinning_an_empty_lock_changes_nothing() -> None:
    for environment in ENVIRONMENTS.values():
        assert pin_images(environment, ImageLock(), LOCK_PATH).environment == environment


def test_pinning_a_digest_written_in_the_code_agreeing_with_the_lock_is_kept() -> None:
    written = replace(DEV, apps=(replace(DEV.apps[0], image=ImageRef.parse(f"{ECHO}@{DIGEST_A}")),))
    pinned = pin_images(written, lock_of("dev", {ECHO: DIGEST_A}), LOCK_PATH)
    assert pinned.environment == written
    assert pinned.locked == frozenset()


def test_pinning_a_lock_contradicting_a_written_digest_is_refused() -> None:
    written = replace(DEV, apps=(replace(DEV.apps[0], image=ImageRef.parse(f"{ECHO}@{DIGEST_A}")),))

    with pytest.raises(SynthError) as raised:
        pin_images(written, lock_of("dev", {ECHO: DIGEST_B}), LOCK_PATH)

    assert str(raised.value) == (
        f"lib/environments.py, environment 'dev': image '{ECHO}@{DIGEST_A}' of 'backend' is "
        f"written with a digest, but images.lock.yaml pins '{ECHO}' to {DIGEST_B}: the digest in "
        "lib/environments.py is the one deployed and the lock entry is stale or hand-edited; run "
        "`make lock-images ENV=dev` to rewrite the lock (it leaves images written with a digest "
        "out), or write the lock's digest"
    )


def test_pinning_required_digests_are_met_by_the_lock_alone() -> None:
    strict = replace(DEV, image_policy=ImagePolicy(require_digests=True))
    every_tag = {str(image): DIGEST_A for image in images(DEV).values()}

    pinned = pin_images(strict, lock_of("dev", every_tag), LOCK_PATH)

    assert all(image.digest == DIGEST_A for image in images(pinned.environment).values())


def test_pinning_required_digests_refuse_the_first_image_the_lock_misses() -> None:
    strict = replace(DEV, image_policy=ImagePolicy(require_digests=True))
    all_but_valkey = {str(DEV.gateway.image): DIGEST_A, ECHO: DIGEST_A}

    with pytest.raises(SynthError) as raised:
        pin_images(strict, lock_of("dev", all_but_valkey), LOCK_PATH)

    assert str(raised.value).startswith(
        f"lib/environments.py, environment 'dev': image '{VALKEY}' of 'valkey' is neither "
        "written with a digest nor pinned by images.lock.yaml"
    )
