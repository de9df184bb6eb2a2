# Everything starts from a fresh clone: the first target that needs the
# environment creates .venv and installs the pinned dependencies into it.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt src/requirements.txt | cksum | cut -d' ' -f1)

# The Lambda runtime is python3.13: prefer it, fall back to python3 >= 3.11.
BOOTSTRAP_PYTHON ?= $(shell \
	for c in $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3.13 python3; do \
	  p=$$(command -v $$c 2>/dev/null) || continue; \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; \
	done)

SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-$(shell cat requirements-sam.txt | cksum | cut -d' ' -f1)

EVENT ?= events/direct.json
ENV ?= events/env.json

.PHONY: venv demo test invoke lint build bench clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt src/requirements.txt
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "need python3.13 (or python3 >= 3.11)" >&2; exit 1; }
	rm -rf $(VENV)
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

demo: $(STAMP)
	$(PY) -m local_stack demo

# The build comes first: tests/build checks the real deployment artifact.
test: $(STAMP) build
	$(PY) -m pytest

invoke: $(STAMP)
	$(PY) -m local_stack invoke --event $(EVENT) --env-vars $(ENV)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

$(SAM_STAMP): requirements-sam.txt
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "need python3.13 (or python3 >= 3.11)" >&2; exit 1; }
	rm -rf $(SAM_VENV)
	$(BOOTSTRAP_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

# sam build (no container) needs the runtime's interpreter, python3.13, on PATH.
build: $(SAM_STAMP)
	PATH="$(dir $(BOOTSTRAP_PYTHON)):$$PATH" SAM_CLI_TELEMETRY=0 \
	  $(SAM_VENV)/bin/sam build --no-cached

# Not a test: our handler against the raw library and the naive script
# (bench/README.md). Bench-only dependencies go into the same .venv.
bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
