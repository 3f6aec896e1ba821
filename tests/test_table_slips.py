"""A slip in lib/environments.py, the file users edit, is one ``error:`` line naming the entry,
the field and what to write; a bug elsewhere keeps its traceback.

Each test edits a copy of the project's real table (one textual change, as a user would make it)
and runs the real ``main.py`` on that copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import copy_project

TABLE = "lib/environments.py"
# backend's own lines (the chatbot example shares its image and probes).
BACKEND_IMAGE = (
    'image=ImageRef.parse("docker.io/hashicorp/http-echo:1.0.0"),\n'
    '    port=5678,\n    secret_groups=("stripe",)'
)
BACKEND_PROBES = (
    'probes=HttpProbes(readiness_path="/", liveness_path="/"),\n'
    '    args=("-listen=:5678", "-text=backend'
)
DEV_GATEWAY = "gateway=GatewaySpec(image=LITELLM_IMAGE, replicas=1)"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project"))


def synth_with_edit(pristine: Path, tmp_path: Path, old: str, new: str) -> tuple[int, str, str]:
    project = tmp_path / "project"
    shutil.copytree(pristine, project)
    table = project / TABLE
    text = table.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the table no longer contains {old!r} exactly once"
    table.write_text(text.replace(old, new), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "main.py", "--outdir", str(tmp_path / "out")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def line_of(pristine: Path, text: str) -> int:
    lines = (pristine / TABLE).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_table_slips_string_where_an_image_reference_goes(pristine: Path, tmp_path: Path) -> None:
    code, out, err = synth_with_edit(
        pristine,
        tmp_path,
        BACKEND_IMAGE,
        BACKEND_IMAGE.replace(
            'ImageRef.parse("docker.io/hashicorp/http-echo:1.0.0")',
            '"docker.io/hashicorp/http-echo:1.0.0"',
        ),
    )
    line = line_of(pristine, "_EXAMPLE_BACKEND = ConsumerAppSpec(")
    assert (code, out) == (1, "")
    assert err == (
        f"error: lib/environments.py line {line}, _EXAMPLE_BACKEND (used by environments 'dev', "
        "'prod'): app 'backend' image is the string 'docker.io/hashicorp/http-echo:1.0.0', not "
        "an ImageRef: write ImageRef.parse('docker.io/hashicorp/http-echo:1.0.0')\n"
    )


def test_table_slips_gateway_image_string_names_the_environment(
    pristine: Path, tmp_path: Path
) -> None:
    code, _, err = synth_with_edit(
        pristine,
        tmp_path,
        DEV_GATEWAY,
        'gateway=GatewaySpec(image="ghcr.io/berriai/litellm-non_root:v1.106.2", replicas=1)',
    )
    line = line_of(pristine, '"dev": Environment(')
    assert code == 1
    assert err == (
        f"error: lib/environments.py line {line}, environment 'dev': gateway.image is the string "
        "'ghcr.io/berriai/litellm-non_root:v1.106.2', not an ImageRef: write "
        "ImageRef.parse('ghcr.io/berriai/litellm-non_root:v1.106.2')\n"
    )


def test_table_slips_missing_comma_in_a_one_item_tuple(pristine: Path, tmp_path: Path) -> None:
    code, _, err = synth_with_edit(
        pristine, tmp_path, 'secret_groups=("stripe",)', 'secret_groups=("stripe")'
    )
    line = line_of(pristine, "_EXAMPLE_BACKEND = ConsumerAppSpec(")
    assert code == 1
    assert err == (
        f"error: lib/environments.py line {line}, _EXAMPLE_BACKEND (used by environments 'dev', "
        "'prod'): app 'backend' secret_groups is the string 'stripe', not a tuple of strings: a "
        "one-item tuple needs a trailing comma: write ('stripe',)\n"
    )


def test_table_slips_misspelt_field(pristine: Path, tmp_path: Path) -> None:
    code, _, err = synth_with_edit(
        pristine, tmp_path, DEV_GATEWAY, "gateway=GatewaySpec(image=LITELLM_IMAGE, replica=1)"
    )
    assert code == 1
    assert err == (
        f"error: lib/environments.py line {line_of(pristine, DEV_GATEWAY)}, environment 'dev', "
        "gateway: GatewaySpec has no field 'replica': did you mean 'replicas'?\n"
    )


def test_table_slips_number_in_quotes(pristine: Path, tmp_path: Path) -> None:
    code, _, err = synth_with_edit(
        pristine, tmp_path, "timeout=60, stream_timeout=30", 'timeout="60", stream_timeout=30'
    )
    line = line_of(pristine, '"dev": Environment(')
    assert code == 1
    assert err == (
        f"error: lib/environments.py line {line}, "
        "environment 'dev': proxy.models[0].timeout is the string '60', not a number or None: "
        "write the number without quotes: 60\n"
    )


def test_table_slips_unknown_provider_prefix(pristine: Path, tmp_path: Path) -> None:
    code, out, err = synth_with_edit(
        pristine,
        tmp_path,
        'model="openai/gpt-4o-mini", timeout=60',
        'model="grok/llama-3.3-70b-versatile", timeout=60',
    )
    assert (code, out) == (1, "")
    assert err == (
        "error: lib/environments.py, environment 'dev': model 'gpt-4o-mini' has model "
        "'grok/llama-3.3-70b-versatile', whose provider 'grok' LiteLLM 1.106.12 does not know: "
        "did you mean 'groq'? (the list: lib/proxy_config/litellm_providers.py)\n"
    )


def test_table_slips_name_that_is_not_imported(pristine: Path, tmp_path: Path) -> None:
    code, _, err = synth_with_edit(
        pristine,
        tmp_path,
        "cache=CacheSpec(ttl_seconds=600)",
        "cache=CacheSpec(ttl_seconds=600, call_types=DEFAULT_CALL_TYPES)",
    )
    assert code == 1
    assert err == (
        f"error: lib/environments.py line {line_of(pristine, '_DEV_PROXY = ')}, _DEV_PROXY (used "
        "by environments 'dev'), cache.call_types: name 'DEFAULT_CALL_TYPES' is not imported: add "
        "`from lib.specs.cache import DEFAULT_CALL_TYPES` at the top of the file\n"
    )


def test_table_slips_unknown_field_lists_the_fields(pristine: Path, tmp_path: Path) -> None:
    code, _, err = synth_with_edit(
        pristine,
        tmp_path,
        '    route=AppRoute(path="/"),\n)',
        '    route=AppRoute(path="/"),\n    availability=None,\n)',
    )
    line = line_of(pristine, "_EXAMPLE_BACKEND = ConsumerAppSpec(")
    assert code == 1
    assert err == (
        f"error: lib/environments.py line {line}, _EXAMPLE_BACKEND (used by environments 'dev', "
        "'prod'): ConsumerAppSpec has no field 'availability': its fields are name, image, port, "
        "secret_groups, probes, args, replicas, run_as_user, ingress, gateway, route\n"
    )


def test_table_slips_misspelt_name_suggests_the_imported_one(
    pristine: Path, tmp_path: Path
) -> None:
    code, _, err = synth_with_edit(
        pristine,
        tmp_path,
        BACKEND_PROBES,
        BACKEND_PROBES.replace(
            'HttpProbes(readiness_path="/", liveness_path="/")',
            'NoProbe(reason="no health endpoint")',
        ),
    )
    assert code == 1
    assert err == (
        f"error: lib/environments.py line {line_of(pristine, 'probes=HttpProbes(')}, "
        "_EXAMPLE_BACKEND (used by environments 'dev', 'prod'), probes: name 'NoProbe' is not "
        "defined: did you mean 'NoProbes'?\n"
    )


def test_table_slips_no_probes_is_importable_where_the_table_is() -> None:
    from lib.environments import NoProbes
    from lib.specs.apps import NoProbes as defined

    assert NoProbes is defined


def test_table_slips_a_type_error_below_the_table_keeps_its_traceback(
    pristine: Path, tmp_path: Path
) -> None:
    # A bug in a spec's own code (not in the user's table) is not dressed up as a slip.
    project = tmp_path / "project"
    shutil.copytree(pristine, project)
    cache = project / "lib/specs/cache.py"
    text = cache.read_text(encoding="utf-8")
    fields = "    call_types: tuple[str, ...] = DEFAULT_CALL_TYPES\n"
    assert text.count(fields) == 1
    broken = "\n    def __post_init__(self) -> None:\n        raise TypeError('a bug')\n"
    cache.write_text(text.replace(fields, fields + broken), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "main.py", "--outdir", str(tmp_path / "out")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().endswith("TypeError: a bug")
