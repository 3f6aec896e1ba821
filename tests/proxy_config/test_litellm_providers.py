"""The committed provider list is the installed LiteLLM's, and the release it names is the pin."""

from __future__ import annotations

import json
import subprocess
import tomllib

from lib.proxy_config.litellm_providers import LITELLM_PROVIDERS, LITELLM_RELEASE
from tests.helpers import PROJECT_ROOT
from tests.proxy_harness import OFFLINE

PROXY_PYTHON = PROJECT_ROOT / ".venv-proxy" / "bin" / "python"
PROVIDERS_FILE = PROJECT_ROOT / "lib" / "proxy_config" / "litellm_providers.py"


def test_litellm_providers_are_what_the_installed_litellm_routes() -> None:
    assert PROXY_PYTHON.exists(), "the LiteLLM proxy venv is installed by `make test`"
    result = subprocess.run(
        [
            str(PROXY_PYTHON),
            "-c",
            "import json; from litellm.types.utils import LlmProviders; "
            "print(json.dumps(sorted(p.value for p in LlmProviders)))",
        ],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(PROJECT_ROOT / ".venv-proxy"), **OFFLINE},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # A difference means the pinned LiteLLM routes other providers: run `make providers`.
    assert json.loads(result.stdout.splitlines()[-1]) == sorted(LITELLM_PROVIDERS)


def test_litellm_providers_file_regenerates_as_committed() -> None:
    """The generator, given the committed list, writes the committed file: it is the format
    `make providers` produces, not a hand edit."""
    text = PROVIDERS_FILE.read_text(encoding="utf-8")
    names = "".join(f'        "{name}",\n' for name in sorted(LITELLM_PROVIDERS))
    assert f"LITELLM_PROVIDERS = frozenset(\n    {{\n{names}    }}\n)\n" in text


def test_litellm_providers_release_is_the_pinned_proxy() -> None:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = pyproject["tool"]["litellm-proxy"]["requirements"]
    assert f"litellm[proxy]=={LITELLM_RELEASE}" in requirements


def test_litellm_providers_cover_the_providers_with_known_keys() -> None:
    from lib.proxy_config.providers import PROVIDER_KEY_VARIABLES

    assert set(PROVIDER_KEY_VARIABLES) <= LITELLM_PROVIDERS
    assert "grok" not in LITELLM_PROVIDERS  # the typo the refusal exists for
