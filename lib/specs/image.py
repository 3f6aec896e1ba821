"""Container image references, parsed once where they are written down."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lib.errors import SynthError

# The grammar of github.com/distribution/reference, restricted to what a pod can pull: an
# optional registry host (with a dot or a port, or "localhost"), lowercase path components, then
# a tag and/or a sha256 digest.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(?:(?:localhost|{_LABEL}(?:\.{_LABEL})+)(?::[0-9]+)?|{_LABEL}:[0-9]+)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_FORM = "registry/name:tag or registry/name:tag@sha256:<64 lowercase hex digits>"

# Tags that name no release: whoever pushes moves them. On 2026-10-21 LiteLLM's `latest`,
# `main-latest` and `main-stable` pointed at the compromised 1.107.0 (docs/dependencies.md).
FLOATING_TAGS = frozenset({"latest", "main-latest", "main-stable", "lts"})
# LiteLLM's images (litellm, litellm-non_root, litellm-database, ...) on any registry that keeps
# BerriAI's path: ghcr.io, Docker Hub (with or without docker.io/) or a mirror.
_LITELLM_REPOSITORY = re.compile(r"(?:.+/)?berriai/litellm(?:-[a-z0-9_.-]+)?")
# A tag of the 1.107.x series, in either scheme: v1.107.0, 1.107.0, main-v1.107.0, v1.107.0-stable.
_LITELLM_1_107_TAG = re.compile(r"(?:main-)?v?1\.107(?:\.[0-9]+)?(?:[-.+_][A-Za-z0-9_.-]*)?")


@dataclass(frozen=True)
class ImageRef:
    """``repository[:tag][@sha256:digest]``; at least a tag or a digest.

    A digest pins the exact bytes the kubelet pulls; a tag alone can be moved by whoever
    controls the registry. Build one with ``ImageRef.parse``: it refuses a malformed reference
    with one sentence, as the environment table is built. Refused even with a digest: a floating
    tag (``FLOATING_TAGS``), and any image of LiteLLM's compromised 1.107.x series.
    """

    repository: str
    tag: str | None
    digest: str | None

    def __post_init__(self) -> None:
        text = self._text()
        if not _REPOSITORY.fullmatch(self.repository):
            raise SynthError(
                f"image reference '{text}' has a malformed name '{self.repository}': "
                f"write it as {_FORM}"
            )
        if self.tag is not None and not _TAG.fullmatch(self.tag):
            raise SynthError(
                f"image reference '{text}' has a malformed tag '{self.tag}': write it as {_FORM}"
            )
        if self.digest is not None and not _DIGEST.fullmatch(self.digest):
            raise SynthError(
                f"image reference '{text}' has a malformed digest: write it as {_FORM}"
            )
        if self.tag is None and self.digest is None:
            raise SynthError(
                f"image reference '{text}' has neither a tag nor a digest, so it means "
                f"whatever ':latest' is at pull time: write it as {_FORM}"
            )
        if self.tag in FLOATING_TAGS:
            raise SynthError(
                f"image reference '{text}' uses the floating tag '{self.tag}', which names no "
                "release, so a digest taken from it pins whatever it pointed at that day "
                "(LiteLLM's latest, main-latest and main-stable pointed at the compromised "
                "1.107.0): pin a release tag, with its digest"
            )
        if (
            self.tag is not None
            and _LITELLM_REPOSITORY.fullmatch(self.repository)
            and _LITELLM_1_107_TAG.fullmatch(self.tag)
        ):
            raise SynthError(
                f"image reference '{text}' is from LiteLLM's 1.107.x series, whose 1.107.0 "
                "images carried an implant that sent secrets out at every Python start: pin a "
                "patched release outside 1.107.x (docs/dependencies.md)"
            )

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """``text`` as an image reference; ``SynthError`` naming it if it is not one."""
        if not isinstance(text, str):
            raise SynthError(f"ImageRef.parse takes a string ({_FORM}), not {text!r}")
        if not text or text != text.strip():
            raise SynthError(
                f"image reference '{text}' is empty or has spaces: write it as {_FORM}"
            )
        rest, _, digest = text.partition("@")
        # A ':' after the last '/' starts the tag; one before it is a registry port.
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            repository, tag = rest[:colon], rest[colon + 1 :]
        else:
            repository, tag = rest, None
        return cls(repository=repository, tag=tag, digest=digest if "@" in text else None)

    @property
    def pinned_by_digest(self) -> bool:
        return self.digest is not None

    def _text(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.repository}{tag}{digest}"

    def __str__(self) -> str:
        return self._text()


@dataclass(frozen=True)
class ImagePolicy:
    """What an environment demands of its images.

    ``require_digests``: every image (the gateway's, every app's and the in-cluster Valkey's)
    must carry a ``@sha256:`` digest, written here or pinned by ``images.lock.yaml``; a synth
    with any other image is refused with one line naming it (``lib/images/pinning.py``).
    """

    require_digests: bool = False
