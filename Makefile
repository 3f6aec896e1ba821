# Two commands on a fresh clone: `make synth` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENV ?= dev
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# pip's own version check reaches the internet; nothing else here needs it.
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: synth test lint typecheck clean

synth: $(VENV)/.synth-deps
	$(BIN)/python main.py --env $(ENV) $(if $(SECRETS),--secrets $(SECRETS)) $(if $(OUTDIR),--outdir $(OUTDIR))

# The whole suite, lint and types included: one command for developers and CI alike.
test: lint typecheck
	$(BIN)/python -m pytest

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps depend on pyproject.toml, so a changed dependency list reinstalls on the next run.
$(VENV)/.synth-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml $(VENV)/.synth-deps
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf dist .dist.* $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
