"""The small specs refuse bad values with one sentence, as the environment table is built."""

from __future__ import annotations

import pytest

from lib.errors import SynthError
from lib.specs.apps import HttpProbes, NoProbes
from lib.specs.availability import AutoscalingSpec, AvailabilitySpec
from lib.specs.image import ImageRef
from lib.specs.network import NetworkSpec

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "repository", "tag", "digest"),
    [
        (
            "ghcr.io/berriai/litellm-non_root:v1.106.2",
            "ghcr.io/berriai/litellm-non_root",
            "v1.106.2",
            None,
        ),
        (
            f"ghcr.io/berriai/litellm-non_root:v1.106.2@{DIGEST}",
            "ghcr.io/berriai/litellm-non_root",
            "v1.106.2",
            DIGEST,
        ),
        (f"registry.local:5000/team/app@{DIGEST}", "registry.local:5000/team/app", None, DIGEST),
        ("localhost:5000/app:1", "localhost:5000/app", "1", None),
        ("example/app:1", "example/app", "1", None),
    ],
)
def test_image_ref_parses_and_prints_back(
    text: str, repository: str, tag: str | None, digest: str | None
) -> None:
    image = ImageRef.parse(text)
    assert (image.repository, image.tag, image.digest) == (repository, tag, digest)
    assert str(image) == text
    assert image.pinned_by_digest is (digest is not None)


FORM = "registry/name:tag or registry/name:tag@sha256:<64 lowercase hex digits>"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"image reference '' is empty or has spaces: write it as {FORM}"),
        (" app:1", f"image reference ' app:1' is empty or has spaces: write it as {FORM}"),
        (
            "ghcr.io/BerriAI/litellm:v1",
            "image reference 'ghcr.io/BerriAI/litellm:v1' has a malformed name "
            f"'ghcr.io/BerriAI/litellm': write it as {FORM}",
        ),
        ("app:", f"image reference 'app:' has a malformed tag '': write it as {FORM}"),
        (
            "app:1@sha256:abc",
            f"image reference 'app:1@sha256:abc' has a malformed digest: write it as {FORM}",
        ),
        (
            f"app:1@sha256:{'AB' * 32}",
            f"image reference 'app:1@sha256:{'AB' * 32}' has a malformed digest: "
            f"write it as {FORM}",
        ),
        (
            "ghcr.io/berriai/litellm",
            "image reference 'ghcr.io/berriai/litellm' has neither a tag nor a digest, so it "
            f"means whatever ':latest' is at pull time: write it as {FORM}",
        ),
    ],
)
def test_image_ref_refuses_malformed_references(text: str, message: str) -> None:
    with pytest.raises(SynthError) as raised:
        ImageRef.parse(text)
    assert str(raised.value) == message


def test_availability_grace_period_outlasts_the_drain() -> None:
    spec = AvailabilitySpec(prestop_sleep_seconds=5)
    assert spec.termination_grace_seconds(130) == 5 + 130 + spec.SHUTDOWN_MARGIN_SECONDS
    assert spec.termination_grace_seconds(30) > spec.prestop_sleep_seconds + 30


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: AvailabilitySpec(max_unavailable=0),
            "availability max_unavailable 0 would block every node drain: use at least 1",
        ),
        (
            lambda: AvailabilitySpec(prestop_sleep_seconds=-1),
            "availability prestop_sleep_seconds must be >= 0",
        ),
        (
            lambda: AutoscalingSpec(max_replicas=4, target_cpu_percent=150),
            "autoscaling target_cpu_percent 150 is not a percentage of the CPU request: use 1-100",
        ),
        (
            lambda: NetworkSpec(ingress_controller_namespace={}),
            "network ingress_controller_namespace is empty, which would select every namespace: "
            "give its labels, e.g. {'kubernetes.io/metadata.name': 'ingress-nginx'}",
        ),
        (
            lambda: NetworkSpec(ingress_controller_pods={"app": "bad value!"}),
            "network ingress_controller_pods: 'app: bad value!' is not a valid Kubernetes label",
        ),
        (
            lambda: NetworkSpec(egress_cidrs=("10.0.0.0/33",)),
            "network egress_cidrs entry '10.0.0.0/33' is not a CIDR block such as '0.0.0.0/0' "
            "or '203.0.113.0/24'",
        ),
        (
            lambda: NetworkSpec(restrict_gateway_egress=True, egress_cidrs=()),
            "network restrict_gateway_egress with no egress_cidrs would cut LiteLLM off from "
            "every model provider: list the CIDR blocks it may reach",
        ),
        (
            lambda: HttpProbes(readiness_path="healthz", liveness_path="/"),
            "probe path 'healthz' must start with '/'",
        ),
        (
            lambda: NoProbes(reason=" "),
            "NoProbes needs a reason: say why the app cannot be probed",
        ),
    ],
)
def test_specs_refuse_bad_values(build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(SynthError) as raised:
        build()
    assert str(raised.value) == message
