"""The provider key table agrees with the installed LiteLLM's own idea of each provider's key."""

from __future__ import annotations

import json
import subprocess

from lib.proxy_config.providers import PROVIDER_KEY_VARIABLES, provider_of
from tests.helpers import PROJECT_ROOT
from tests.proxy_harness import OFFLINE

PROXY_PYTHON = PROJECT_ROOT / ".venv-proxy" / "bin" / "python"
ASK_LITELLM = """
import json, sys
import litellm
providers = json.loads(sys.argv[1])
missing = {p: litellm.validate_environment(model=p + "/m")["missing_keys"] for p in providers}
print(json.dumps(missing))
"""


def test_providers_table_matches_litellm_validate_environment() -> None:
    assert PROXY_PYTHON.exists(), "the LiteLLM proxy venv is installed by `make test`"
    result = subprocess.run(
        [str(PROXY_PYTHON), "-c", ASK_LITELLM, json.dumps(list(PROVIDER_KEY_VARIABLES))],
        env={"PATH": "/usr/bin:/bin", "HOME": str(PROJECT_ROOT / ".venv-proxy"), **OFFLINE},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    missing_by_provider = json.loads(result.stdout.splitlines()[-1])
    assert {p: set(v) for p, v in missing_by_provider.items()} == {
        p: set(v) for p, v in PROVIDER_KEY_VARIABLES.items()
    }


def test_providers_provider_of() -> None:
    assert provider_of("openai/gpt-4o") == "openai"
    assert provider_of("openrouter/anthropic/claude-3.5-sonnet") == "openrouter"
    assert provider_of("gpt-4o") is None
