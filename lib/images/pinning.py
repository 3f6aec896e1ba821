"""At synth time: the lock's digests applied to an environment's images, and its image policy.

No network: what the lock says is what is rendered. A tag-only image the lock pins becomes
``repository:tag@sha256:...``, which the kubelet pulls by digest (the tag is kept for readers).
An image written with a digest stays as written; a lock entry for its tag that names another
digest is refused, because one of the two is stale and only a person can tell which was meant.
The digest written in ``lib/environments.py`` is the one that would be deployed: the lock
command never writes an entry for such an image, so a contradicting entry is left over from
before the digest was written, or edited by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from lib.environments import Environment, images, with_images
from lib.errors import SynthError
from lib.images.lock import ImageLock
from lib.specs.image import ImageRef


@dataclass(frozen=True)
class PinnedEnvironment:
    """``environment`` with the lock applied; ``locked``: the workloads the lock pinned."""

    environment: Environment
    locked: frozenset[str]


def lock_command(environment: Environment) -> str:
    return f"`make lock-images ENV={environment.name}`"


def pin_images(environment: Environment, lock: ImageLock, lock_path: Path) -> PinnedEnvironment:
    """Every image the lock pins, pinned; ``SynthError`` for a contradiction, or for an image
    left unpinned where the environment's ``image_policy`` requires digests."""
    where = f"lib/environments.py, environment '{environment.name}'"
    digests = lock.digests_of(environment.name)
    pinned: dict[str, ImageRef] = {}
    for workload, image in images(environment).items():
        written_tag = f"{image.repository}:{image.tag}" if image.tag is not None else None
        locked = digests.get(written_tag) if written_tag is not None else None
        if image.digest is not None:
            if locked is not None and locked != image.digest:
                raise SynthError(
                    f"{where}: image '{image}' of '{workload}' is written with a digest, but "
                    f"{lock_path} pins '{written_tag}' to {locked}: the digest in "
                    "lib/environments.py is the one deployed and the lock entry is stale or "
                    f"hand-edited; run {lock_command(environment)} to rewrite the lock (it "
                    "leaves images written with a digest out), or write the lock's digest"
                )
            continue
        if locked is not None:
            pinned[workload] = replace(image, digest=locked)
        elif environment.image_policy.require_digests:
            raise SynthError(
                f"{where}: image '{image}' of '{workload}' is neither written with a digest nor "
                f"pinned by {lock_path}, and the environment's image_policy requires digests: "
                f"run {lock_command(environment)} and commit {lock_path.name}, or append "
                "@sha256:<digest> to the image (docs/images.md)"
            )
    return PinnedEnvironment(with_images(environment, pinned), frozenset(pinned))
