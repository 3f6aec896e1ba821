"""lib/images/distribution.py against a real distribution registry on 127.0.0.1, with images
pushed by skopeo (tests/oci_registry.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.errors import SynthError
from lib.images.distribution import OCI_INDEX, OCI_MANIFEST, Repository, resolve_tag
from lib.specs.image import ImageRef
from tests.oci_registry import LocalRegistry, TokenService, image_layout, multi_arch_layout
from tests.proxy_harness import free_port


def pushed(registry: LocalRegistry, tmp_path: Path, target: str, content: str) -> ImageRef:
    layout = image_layout(tmp_path / f"layout-{content}", "v1", content)
    registry.push(layout, "v1", target, all_platforms=False)
    return ImageRef.parse(f"{registry.host}/{target}")


def test_distribution_resolves_a_tag_to_the_digest_the_registry_serves(
    oci_registry: LocalRegistry, tmp_path: Path
) -> None:
    image = pushed(oci_registry, tmp_path, "distribution/single:1.0", "one")

    manifest = resolve_tag(image)

    assert manifest.digest == oci_registry.digest_by_client("distribution/single:1.0")
    assert manifest.media_type == OCI_MANIFEST
    assert manifest.description == "OCI image manifest"


def test_distribution_locks_a_multi_arch_image_by_its_index_not_a_platform(
    oci_registry: LocalRegistry, tmp_path: Path
) -> None:
    layout = multi_arch_layout(tmp_path / "layout", "multi")
    oci_registry.push(layout, "multi", "distribution/multi:2.0", all_platforms=True)

    manifest = resolve_tag(ImageRef.parse(f"{oci_registry.host}/distribution/multi:2.0"))

    assert manifest.media_type == OCI_INDEX
    assert manifest.digest == oci_registry.digest_by_client("distribution/multi:2.0")


def test_distribution_unknown_tag_is_one_line_naming_the_image(
    oci_registry: LocalRegistry, tmp_path: Path
) -> None:
    pushed(oci_registry, tmp_path, "distribution/tagged:1.0", "tagged")
    image = ImageRef.parse(f"{oci_registry.host}/distribution/tagged:9.9")

    with pytest.raises(SynthError) as raised:
        resolve_tag(image)

    assert str(raised.value) == (
        f"image '{image}' at http://{oci_registry.host}: the registry has no manifest for tag "
        "'9.9' (MANIFEST_UNKNOWN): check the tag in lib/environments.py against the image's "
        "published tags"
    )


def test_distribution_unreachable_registry_is_one_line() -> None:
    port = free_port()  # nothing listens there
    image = ImageRef.parse(f"127.0.0.1:{port}/nothing/here:1.0")

    with pytest.raises(SynthError) as raised:
        resolve_tag(image)

    assert str(raised.value) == (
        f"image '{image}' at http://127.0.0.1:{port}: cannot reach the registry (Connection "
        "refused): check the registry host and port in lib/environments.py and your network"
    )


def test_distribution_refuses_bytes_that_do_not_match_the_registrys_digest(
    oci_registry: LocalRegistry, tmp_path: Path
) -> None:
    """The registry's storage altered under it: it serves the changed bytes with the digest it
    recorded at push time. The lock must not take either."""
    image = pushed(oci_registry, tmp_path, "distribution/tampered:1.0", "tampered")
    recorded = resolve_tag(image).digest
    stored = oci_registry.stored_manifest(recorded)
    stored.write_bytes(stored.read_bytes() + b"\n")

    with pytest.raises(SynthError) as raised:
        resolve_tag(image)

    served = oci_registry.digest_by_client("distribution/tampered:1.0")
    assert served != recorded
    assert str(raised.value) == (
        f"image '{image}' at http://{oci_registry.host}: the manifest served hashes to {served}, "
        f"but the registry's Docker-Content-Digest says '{recorded}', so the bytes were changed "
        "between the registry's storage and here: do not pin it; find out what alters the "
        "registry's answers (its storage, a proxy, a mirror) before locking again"
    )


def test_distribution_takes_an_anonymous_token_where_the_registry_challenges(
    token_registry: LocalRegistry, token_service: TokenService, tmp_path: Path
) -> None:
    """As on ghcr.io and Docker Hub: a 401 with a bearer challenge, a token for pulling this
    repository asked of the challenge's realm without credentials, then the manifest."""
    image = pushed(token_registry, tmp_path, "public/app:1.0", "public")
    served = token_registry.digest_by_client("public/app:1.0")
    asked_before = len(token_service.requests)

    manifest = resolve_tag(image)

    assert manifest.digest == served
    assert token_service.requests[asked_before:] == [
        ({"scope": ["repository:public/app:pull"], "service": ["local-registry"]}, False)
    ]


def test_distribution_a_token_that_grants_nothing_is_one_line(
    token_registry: LocalRegistry,
) -> None:
    image = ImageRef.parse(f"{token_registry.host}/private/app:1.0")

    with pytest.raises(SynthError) as raised:
        resolve_tag(image)

    assert str(raised.value) == (
        f"image '{image}' at http://{token_registry.host}: the registry refused anonymous access "
        "to 'private/app' (HTTP 401): check the repository name; a private image is not locked "
        "by this command: append its @sha256 digest in lib/environments.py (docs/images.md)"
    )


@pytest.mark.parametrize(
    ("reference", "base_url", "name"),
    [
        (
            "ghcr.io/berriai/litellm-non_root:v1.106.12",
            "https://ghcr.io",
            "berriai/litellm-non_root",
        ),
        ("docker.io/valkey/valkey:8.1.1", "https://registry-1.docker.io", "valkey/valkey"),
        ("docker.io/redis:7", "https://registry-1.docker.io", "library/redis"),
        ("redis:7", "https://registry-1.docker.io", "library/redis"),
        ("hashicorp/http-echo:1.0.0", "https://registry-1.docker.io", "hashicorp/http-echo"),
        ("index.docker.io/valkey/valkey:8", "https://registry-1.docker.io", "valkey/valkey"),
        ("localhost:5000/team/app:1", "http://localhost:5000", "team/app"),
        ("localhost/app:1", "http://localhost", "app"),
        ("127.0.0.1:5000/app:1", "http://127.0.0.1:5000", "app"),
        # Only loopback is reached over plain HTTP, as container runtimes do by default.
        ("10.0.0.5:5000/app:1", "https://10.0.0.5:5000", "app"),
        ("registry.example.com:8443/a/b/c:1", "https://registry.example.com:8443", "a/b/c"),
    ],
)
def test_distribution_repository_of_a_reference(reference: str, base_url: str, name: str) -> None:
    assert Repository.of(ImageRef.parse(reference)) == Repository(base_url=base_url, name=name)
