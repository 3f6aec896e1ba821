"""lib/specs/image.py: references that parse but must not be deployed, refused with one line."""

from __future__ import annotations

import pytest

from lib.errors import SynthError
from lib.specs.image import ImageRef

DIGEST = "sha256:" + "ab" * 32


def _floating(text: str, tag: str) -> str:
    return (
        f"image reference '{text}' uses the floating tag '{tag}', which names no release, so a "
        "digest taken from it pins whatever it pointed at that day (LiteLLM's latest, "
        "main-latest and main-stable pointed at the compromised 1.107.0): pin a release tag, "
        "with its digest"
    )


def _series_1_107(text: str) -> str:
    return (
        f"image reference '{text}' is from LiteLLM's 1.107.x series, whose 1.107.0 images "
        "carried an implant that sent secrets out at every Python start: pin a patched release "
        "outside 1.107.x (docs/dependencies.md)"
    )


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("app:latest", "latest"),
        (f"app:latest@{DIGEST}", "latest"),
        ("ghcr.io/berriai/litellm:main-latest", "main-latest"),
        (f"ghcr.io/berriai/litellm-non_root:main-stable@{DIGEST}", "main-stable"),
        ("docker.io/valkey/valkey:lts", "lts"),
        (f"registry.local:5000/team/app:lts@{DIGEST}", "lts"),
    ],
)
def test_image_ref_refuses_floating_tags_even_with_a_digest(text: str, tag: str) -> None:
    with pytest.raises(SynthError) as raised:
        ImageRef.parse(text)
    assert str(raised.value) == _floating(text, tag)


@pytest.mark.parametrize(
    "text",
    [
        "ghcr.io/berriai/litellm:v1.107.0",
        "ghcr.io/berriai/litellm:1.107.0",
        "ghcr.io/berriai/litellm:main-v1.107.0",
        "ghcr.io/berriai/litellm-non_root:v1.107.2",
        f"ghcr.io/berriai/litellm-non_root:v1.107.0@{DIGEST}",
        "ghcr.io/berriai/litellm-database:main-v1.107.1-stable",
        "docker.io/berriai/litellm:v1.107.0",
        "docker.io/berriai/litellm-non_root:1.107.3",
        "berriai/litellm-database:v1.107.0",
        "mirror.internal:5000/proxies/berriai/litellm-non_root:v1.107.0",
    ],
)
def test_image_ref_refuses_litellm_1_107_images(text: str) -> None:
    with pytest.raises(SynthError) as raised:
        ImageRef.parse(text)
    assert str(raised.value) == _series_1_107(text)


@pytest.mark.parametrize(
    "text",
    [
        "ghcr.io/berriai/litellm-non_root:v1.106.12",
        f"ghcr.io/berriai/litellm:main-v1.106.2@{DIGEST}",
        "ghcr.io/berriai/litellm:v1.108.0",
        "ghcr.io/berriai/litellm:v1.1070.0",
        "ghcr.io/berriai/litellm:v1.10.7",
        "docker.io/example/litellm:v1.107.0",
        "example/app:1.107.0",
        "app:latest-1.2",
        f"app:stable@{DIGEST}",
    ],
)
def test_image_ref_keeps_neighbours_of_the_refused_tags(text: str) -> None:
    """Other releases, other owners' images and tags that only contain a refused word pass."""
    assert str(ImageRef.parse(text)) == text
