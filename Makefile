# Two commands on a fresh clone: `make synth` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROXY_VENV := .venv-proxy
CHECKOV_VENV := .venv-checkov
ENV ?= dev
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: synth test lint typecheck clean

## synth: decrypt the environment's secrets and write dist/ (ENV=dev|prod, SECRETS=, OUTDIR=)
synth: $(VENV)/.synth-deps
	$(BIN)/python main.py --env $(ENV) $(if $(SECRETS),--secrets $(SECRETS)) $(if $(OUTDIR),--outdir $(OUTDIR))

## test: lint, type-check and the whole test suite: one command for developers and CI alike
test: lint typecheck node_modules/.installed $(PROXY_VENV)/.installed $(CHECKOV_VENV)/.installed \
  redis-server
	$(BIN)/python -m pytest

## bench: our synth against a bare cdk8s-plus program: time, memory, sops runs (RUNS=5); not part of test
.PHONY: bench
bench: $(VENV)/.synth-deps
	$(BIN)/python benchmarks/run.py $(if $(RUNS),--runs $(RUNS))

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps depend on pyproject.toml, so a changed dependency list reinstalls on the next run.
# Installing the project pulls its dependencies only: the code runs from this checkout.
$(VENV)/.synth-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet .
	touch $@

$(VENV)/.test-deps: pyproject.toml $(VENV)/.synth-deps
	$(BIN)/python -m pip install --quiet '.[test]'
	touch $@

# The LiteLLM proxy for the end-to-end test, pinned in pyproject.toml [tool.litellm-proxy].
# Built on the system interpreter: the test runs it as the pod's non-root user, who cannot read
# an interpreter under /root (a venv made from pyenv there silently falls back to another Python).
PROXY_PYTHON ?= /usr/bin/python3
$(PROXY_VENV)/.installed: pyproject.toml
	test "$$(readlink $(PROXY_VENV)/bin/python3)" = "$(PROXY_PYTHON)" \
	  || { rm -rf $(PROXY_VENV) && $(PROXY_PYTHON) -m venv $(PROXY_VENV); }
	$(PROXY_VENV)/bin/python -m pip install --quiet $$($(PYTHON) -c \
	  'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["litellm-proxy"]["requirements"]))')
	touch $@

# checkov for tests/test_checkov.py, pinned in pyproject.toml [tool.checkov].
$(CHECKOV_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet $$($(PYTHON) -c \
	  'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["checkov"]["requirements"]))')
	touch $@

# A real Redis (>= 7) for tests/test_scaling_e2e.py; the test starts its own on a free port, so a
# Debian service that autostarts (or does not) changes nothing.
.PHONY: redis-server
redis-server:
	@command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server)

# The cdk8s CLI, pinned in package-lock.json: tests prove `cdk8s synth` behaves.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

clean:
	rm -rf dist .dist.* .cdk8s-cli-out $(VENV) $(PROXY_VENV) $(CHECKOV_VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
