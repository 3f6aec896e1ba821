"""Rendered values read back as the same string in YAML 1.1 and YAML 1.2 readers.

PyYAML (YAML 1.1) is the writer; ruamel.yaml reads as YAML 1.2, and `kubectl kustomize`
reads with go-yaml as kubectl and kustomize do. Every string the model lets through
(lib/secrets/model.py refuses control characters) must come back unchanged from all three.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from lib.errors import SynthError
from lib.output import refuse_ciphertext, render

# Strings one reader or another takes for something else when written plain.
LOOK_LIKE_OTHER_TYPES = [
    "0o17",
    "0O17",
    "1_000",
    "0x1F",
    "0b101",
    "0x1p3",
    ".inf",
    "-.Inf",
    ".NaN",
    "+1",
    "-1",
    "1e3",
    "1.",
    "1:20",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "N",
    "true",
    "False",
    "~",
    "null",
    "NULL",
    "",
    "2025-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "=",
    "<<",
    "007",
]
CARRIED_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Cn"), include_characters="\t\n\r")
)
# Strings near the number, date and keyword forms of the readers, to probe the quoting rule.
LOOKALIKES = st.one_of(
    st.from_regex(r"[-+]?[0-9_.:eExXoObBpP+-]{1,8}", fullmatch=True),
    st.from_regex(r"[-+]?\.?(inf|Inf|INF|nan|NaN|NAN)", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ tT][0-9:.]{1,12}[zZ]?)?", fullmatch=True),
    st.sampled_from(
        ["y", "Y", "n", "N", "yes", "On", "OFF", "~", "null", "=", "<<", "_", "-", "."]
    ),
)
YAML_1_2 = YAML(typ="safe", pure=True)
# For kustomize's output only: every scalar as the text go-yaml wrote. A value kustomize misread
# (0o17 as 15, y as true) comes back as other text; reading types again here would only test
# how ruamel reads go-yaml's plain "=", "<<" or "2000-13-01", which is not the question.
KUSTOMIZE_OUTPUT = YAML(typ="base", pure=True)


def secret(values: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": values,
    }


def read_back_1_1(text: str) -> object:
    return yaml.safe_load(text)["stringData"]


def read_back_1_2(text: str) -> object:
    return YAML_1_2.load(text)["stringData"]


@pytest.mark.parametrize("value", LOOK_LIKE_OTHER_TYPES)
def test_render_value_that_looks_like_another_type_is_quoted(value: str) -> None:
    text = render([secret({"K": value})])
    assert read_back_1_1(text) == {"K": value}
    assert read_back_1_2(text) == {"K": value}
    assert f"K: {value}\n" not in text or value == ""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.one_of(st.sampled_from(LOOK_LIKE_OTHER_TYPES), CARRIED_TEXT), CARRIED_TEXT)
)
@example({"K": "multi\nline\n"})
@example({"K": "\n\nleading newlines and trailing spaces  \n  "})
@example({"K": "a\r\nb"})
def test_render_any_string_reads_back_the_same_in_yaml_1_1_and_1_2(
    values: dict[str, str],
) -> None:
    text = render([secret(values)])
    assert read_back_1_1(text) == values
    assert read_back_1_2(text) == values


def kustomize_read_back(tmp: Path, values: dict[str, str]) -> object:
    """The stringData kubectl's built-in kustomize reads from the rendered file."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed here (it ships kustomize): install it, see README"
    (tmp / "secret.yaml").write_text(render([secret(values)]), encoding="utf-8")
    (tmp / "kustomization.yaml").write_text("resources:\n- secret.yaml\n", encoding="utf-8")
    completed = subprocess.run(
        [kubectl, "kustomize", str(tmp)], capture_output=True, text=True, check=False, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    # kustomize writes YAML 1.2: read its output as such.
    return KUSTOMIZE_OUTPUT.load(completed.stdout)["stringData"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(LOOKALIKES, CARRIED_TEXT), min_size=20, max_size=40))
def test_render_kubectl_kustomize_reads_back_every_value(
    tmp_path_factory: pytest.TempPathFactory, strings: list[str]
) -> None:
    """One kustomize run per example, with many values in one Secret (kubectl takes ~0.1 s)."""
    values = {f"K{index}": value for index, value in enumerate([*LOOK_LIKE_OTHER_TYPES, *strings])}
    assert kustomize_read_back(tmp_path_factory.mktemp("kustomize"), values) == values


def test_render_value_merely_containing_enc_is_not_ciphertext() -> None:
    text = render([secret({"K": "ENC[not-sops] and ENC[AES256_GCM, but no data"})])
    refuse_ciphertext("10-secrets.k8s.yaml", text)  # does not raise


def test_render_sops_ciphertext_is_refused_with_its_line() -> None:
    token = "ENC[AES256_GCM,data:AbC=,iv:ZGVm,tag:Z2hp,type:str]"
    text = render([secret({"A": "plain", "K": token})])
    with pytest.raises(SynthError) as caught:
        refuse_ciphertext("10-secrets.k8s.yaml", text)
    assert str(caught.value) == (
        "10-secrets.k8s.yaml would contain sops ciphertext (ENC[...]) at line 7: a secret value "
        "was not decrypted; re-create it with `sops` so the file decrypts cleanly"
    )
