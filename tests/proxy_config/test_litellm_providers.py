"""The committed provider list is what the pinned LiteLLM release generates, byte for byte."""

from __future__ import annotations

import subprocess
import tomllib

from lib.proxy_config.litellm_providers import LITELLM_PROVIDERS, LITELLM_RELEASE
from tests.helpers import PROJECT_ROOT
from tests.proxy_harness import OFFLINE

PROXY_PYTHON = PROJECT_ROOT / ".venv-proxy" / "bin" / "python"
PROVIDERS_FILE = PROJECT_ROOT / "lib" / "proxy_config" / "litellm_providers.py"


def test_litellm_providers_file_is_what_the_installed_litellm_generates() -> None:
    assert PROXY_PYTHON.exists(), "the LiteLLM proxy venv is installed by `make test`"
    result = subprocess.run(
        [
            str(PROXY_PYTHON),
            "-c",
            "import sys; from lib.proxy_config.litellm_providers import generated_source; "
            "sys.stdout.write(generated_source())",
        ],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(PROJECT_ROOT / ".venv-proxy"), **OFFLINE},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # A difference means the pin moved: run `make providers` and commit the result.
    assert result.stdout == PROVIDERS_FILE.read_text(encoding="utf-8")


def test_litellm_providers_release_is_the_pinned_proxy() -> None:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = pyproject["tool"]["litellm-proxy"]["requirements"]
    assert f"litellm[proxy]=={LITELLM_RELEASE}" in requirements


def test_litellm_providers_cover_the_providers_with_known_keys() -> None:
    from lib.proxy_config.providers import PROVIDER_KEY_VARIABLES

    assert set(PROVIDER_KEY_VARIABLES) <= LITELLM_PROVIDERS
    assert "grok" not in LITELLM_PROVIDERS  # the typo the refusal exists for
