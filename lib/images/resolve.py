"""Every tag-only image of an environment resolved to the digest its registry serves now.

Images written with a digest are left out: they are pinned already, by the code. The result is
what ``lib/images/lock.py`` writes for the environment, so an image the environment no longer
uses drops out of the lock when it is locked again.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.environments import Environment, images
from lib.errors import SynthError
from lib.images.distribution import ResolvedManifest, resolve_tag
from lib.specs.image import ImageRef


@dataclass(frozen=True)
class Resolution:
    """One image of the environment: what the workload runs, and its digest if it was looked up
    (``None``: written with a digest, left as written)."""

    workload: str
    image: ImageRef
    manifest: ResolvedManifest | None

    def line(self) -> str:
        if self.manifest is None:
            return f"{self.workload} {self.image} (digest written in lib/environments.py)"
        return (
            f"{self.workload} {self.image} -> {self.manifest.digest} ({self.manifest.description})"
        )


def resolve_environment(environment: Environment) -> tuple[Resolution, ...]:
    """One registry request per distinct tag-only reference; nothing is written here."""
    found: dict[str, ResolvedManifest] = {}
    resolutions = []
    for workload, image in images(environment).items():
        if image.digest is not None:
            resolutions.append(Resolution(workload, image, None))
            continue
        reference = str(image)
        if reference not in found:
            try:
                found[reference] = resolve_tag(image)
            except SynthError as error:
                raise SynthError(
                    f"environment '{environment.name}', '{workload}': {error}; then run "
                    f"`make lock-images ENV={environment.name}` again (the lock is unchanged)"
                ) from None
        resolutions.append(Resolution(workload, image, found[reference]))
    return tuple(resolutions)


def lock_entries(resolutions: tuple[Resolution, ...]) -> dict[str, str]:
    """The environment's lock entries: reference as written -> digest."""
    return {
        str(resolution.image): resolution.manifest.digest
        for resolution in resolutions
        if resolution.manifest is not None
    }
