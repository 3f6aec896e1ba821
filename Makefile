# Two commands on a fresh clone: `make synth` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROXY_VENV := .venv-proxy
CHECKOV_VENV := .venv-checkov
ENV ?= dev
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: synth test lint typecheck clean explain edit-secrets age-key prod-secrets master-key

## synth: decrypt the environment's secrets and write dist/ (ENV=dev|prod, SECRETS=, OUTDIR=)
synth: $(VENV)/.synth-deps
	$(BIN)/python main.py --env $(ENV) $(if $(SECRETS),--secrets $(SECRETS)) $(if $(OUTDIR),--outdir $(OUTDIR))

## explain: what the environment needs from the cluster before its manifests apply (ENV=)
explain: $(VENV)/.synth-deps
	$(BIN)/python main.py --env $(ENV) --explain

## edit-secrets: open the environment's secrets file in sops (ENV=dev|prod, or SECRETS=FILE)
edit-secrets: $(VENV)/.synth-deps
	$(BIN)/python -m lib.tasks edit-secrets --env $(ENV) $(if $(SECRETS),--secrets $(SECRETS))

## age-key: make your own age key where sops finds it (~/.config/sops/age/keys.txt)
age-key: $(VENV)/.synth-deps
	$(BIN)/python -m lib.tasks age-key

## prod-secrets: enable prod's rule in .sops.yaml for RECIPIENTS=age1...,age1... and create its file
prod-secrets: $(VENV)/.synth-deps
	$(BIN)/python -m lib.tasks prod-secrets "$(RECIPIENTS)"

## master-key: print the dev gateway's master key (the demo one until you change it)
master-key: $(VENV)/.synth-deps
	@$(BIN)/python -m lib.tasks master-key --env $(ENV) && echo

## test: lint, type-check and the whole test suite: one command for developers and CI alike
test: system-packages lint typecheck node_modules/.installed $(PROXY_VENV)/.installed \
  $(PROXY_VENV)/.prisma-generated $(CHECKOV_VENV)/.installed
	$(BIN)/python -m pytest

## lock-images: pin the environment's images to their registries' digests in images.lock.yaml (ENV=)
.PHONY: lock-images
lock-images: $(VENV)/.synth-deps
	$(BIN)/python -m lib.images --env $(ENV)

## bench: our synth against a bare cdk8s-plus program: time, memory, sops runs (RUNS=5); not part of test
.PHONY: bench
bench: $(VENV)/.synth-deps
	$(BIN)/python benchmarks/run.py $(if $(RUNS),--runs $(RUNS))

## providers: regenerate lib/proxy_config/litellm_providers.py from the pinned LiteLLM
.PHONY: providers
providers: $(PROXY_VENV)/.installed
	$(PROXY_VENV)/bin/python -m lib.proxy_config.litellm_providers

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

# The Prisma client LiteLLM imports, generated into the proxy's venv from the release's schema
# (a step of LiteLLM's image build). Prisma's native engines cannot be downloaded here: the
# generator only asks them for their version, which the stand-ins under tests/prisma_engine/
# answer (docs/testing-database.md). The Prisma CLI is the one pinned in package-lock.json
# (PRISMA_BINARY_CACHE_DIR), not one npm would fetch; CHECKPOINT_DISABLE: no telemetry call.
PRISMA_ENGINES := $(CURDIR)/tests/prisma_engine
$(PROXY_VENV)/.prisma-generated: $(PROXY_VENV)/.installed node_modules/.installed \
  $(PRISMA_ENGINES)/query-engine $(PRISMA_ENGINES)/schema-engine
	PATH="$(CURDIR)/$(PROXY_VENV)/bin:$$PATH" PRISMA_BINARY_CACHE_DIR="$(CURDIR)" CHECKPOINT_DISABLE=1 \
	  PRISMA_QUERY_ENGINE_BINARY="$(PRISMA_ENGINES)/query-engine" \
	  PRISMA_SCHEMA_ENGINE_BINARY="$(PRISMA_ENGINES)/schema-engine" \
	  $(PROXY_VENV)/bin/prisma generate --schema "$$($(PROXY_VENV)/bin/python -c \
	  'import importlib.util as u; print(u.find_spec("litellm_proxy_extras").submodule_search_locations[0])')/schema.prisma"
	touch $@

# checkov for tests/test_checkov.py, pinned in pyproject.toml [tool.checkov].
$(CHECKOV_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet $$($(PYTHON) -c \
	  'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["checkov"]["requirements"]))')
	touch $@

# System tools the tests run for real, as command:Debian package. A fresh machine gets the missing
# ones from apt-get: a real Redis (>= 7) for tests/test_scaling_e2e.py (it starts its own on a
# free port, so whether Debian's service autostarts changes nothing); unshare, setpriv and nsenter
# for the locked-down proxy (tests/locked_down.py); chattr for the immutable-directory refusal;
# the distribution registry and skopeo, a real registry and client for `make lock-images`
# (tests/oci_registry.py; the tests start their own registry, never Debian's service); openssl
# signs the tokens of the registry that requires them; a real Postgres (Debian bookworm's 15,
# whose server programs stay off PATH) for the database-backed proxy (tests/database.py starts
# its own on a free port).
SYSTEM_TOOLS := redis-server:redis-server unshare:util-linux setpriv:util-linux \
  nsenter:util-linux chattr:e2fsprogs docker-registry:docker-registry skopeo:skopeo \
  openssl:openssl /usr/lib/postgresql/15/bin/initdb:postgresql
.PHONY: system-packages
system-packages:
	@missing=""; for tool in $(SYSTEM_TOOLS); do \
	  command -v $${tool%%:*} >/dev/null || missing="$$missing $${tool#*:}"; done; \
	$(PROXY_PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	[ -z "$$missing" ] || { apt-get update -qq && apt-get install -y -qq $$missing; }

# Pinned in package-lock.json: the cdk8s CLI (tests prove `cdk8s synth` behaves); Prisma's CLI,
# its WebAssembly query engine and the Postgres driver adapter (tests/prisma_engine/).
# --ignore-scripts: @prisma/client's and @prisma/engines' install scripts would generate a
# TypeScript client and download native engines; neither is wanted.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --silent
	touch $@

clean:
	rm -rf dist .dist.* .cdk8s-cli-out $(VENV) $(PROXY_VENV) $(CHECKOV_VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
