# Everything starts from a fresh clone: the first target that needs an
# environment creates it (python -m venv) and installs the pinned dependencies.
# `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt src/requirements.txt | cksum | cut -d' ' -f1)

# The Lambda runtime is python3.13: prefer it, fall back to python3 >= 3.11
# (enough for the local stack and the tests, not for `sam build`).
BOOTSTRAP_PYTHON ?= $(shell \
	for c in $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3.13 python3; do \
	  p=$$(command -v $$c 2>/dev/null) || continue; \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; \
	done)
# `sam build` (without a container) validates that the runtime's interpreter,
# python3.13, is on PATH: nothing else will do.
RUNTIME_PYTHON ?= $(shell \
	for c in $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3.13; do \
	  p=$$(command -v $$c 2>/dev/null) || continue; \
	  $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo $$p; break; }; \
	done)

SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-$(shell cat requirements-sam.txt | cksum | cut -d' ' -f1)

# make invoke EVENT=... ENV=... PARAMS="LogLevel=DEBUG" RAW=1
EVENT ?= events/direct.json
ENV ?= events/env.json
RAW ?=
# Written by `make stack` while it runs: how to reach its Secrets Manager.
STACK_AWS_ENV := .local-stack/aws.json

OUTPUT_FLAGS = $(if $(RAW),--raw)
# PARAMS (and make secret's NAME and VALUE) reach the CLI through the environment as
# typed: never through the shell's quoting (PARAMS="AuthSuccess=\"type == 'ok'\"" keeps
# every quote), and unexpanded by make ($(value): a "$" stays a "$").
# Some shells export a NAME of their own (WSL: the host name): make secret takes it only
# from the command line.
NAME_ORIGIN := $(origin NAME)
override PARAMS := $(value PARAMS)
override NAME := $(value NAME)
override VALUE := $(value VALUE)
export PARAMS NAME VALUE
INVOKE_FLAGS = $(if $(PARAMS),--parameter-overrides-env PARAMS) \
	$(if $(wildcard $(STACK_AWS_ENV)),--aws-env $(STACK_AWS_ENV)) $(OUTPUT_FLAGS)

.PHONY: help venv demo stack secret invoke test lint build bench clean

help: ## list the targets
	@echo "usage: make <target> [VARIABLE=value ...]"
	@echo
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-8s %s\n", $$1, $$2}'
	@echo
	@echo "variables: EVENT=$(EVENT) ENV=$(ENV) PARAMS=\"LogLevel=DEBUG\" RAW=1 (raw JSON log lines)"

venv: $(STAMP) ## create .venv with the pinned development dependencies

$(STAMP): requirements-dev.txt src/requirements.txt
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "make: need python3.13 (or python3 >= 3.11) on PATH" >&2; exit 1; }
	@echo "==> creating $(VENV) with $(BOOTSTRAP_PYTHON)"
	@rm -rf $(VENV)
	@$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	@echo "==> installing requirements-dev.txt into $(VENV) (about a minute on a fresh machine)"
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@
	@echo "==> $(VENV) ready"

demo: $(STAMP) ## start the local stack, run every sample event, scenario and protocol example, one exchange per AUTH_MODE, then all as one fleet (RAW=1: raw JSON logs)
	$(PY) -m local_stack demo $(strip $(OUTPUT_FLAGS))

stack: $(STAMP) ## run the local stack in the foreground for `make invoke` (Ctrl-C stops it)
	$(PY) -m local_stack serve

secret: $(STAMP) ## store a secret in the running `make stack`: NAME=my/token VALUE='{"token": "..."}'
	@test "$(NAME_ORIGIN)" = "command line" -a -n "$$NAME" || { echo "make secret: give NAME=<secret name> (what TOKEN_SECRET_ID names) and VALUE=<secret string> on the command line" >&2; exit 2; }
	@test -n "$$VALUE" || { echo "make secret: give VALUE=<secret string>, e.g. VALUE='{\"token\": \"...\"}'" >&2; exit 2; }
	@$(PY) -m local_stack secret --name "$$NAME" --value-env VALUE --aws-env "$(STACK_AWS_ENV)"

invoke: $(STAMP) ## invoke once: EVENT=, ENV= (SAM env-vars file), PARAMS= (parameter overrides)
	$(PY) -m local_stack invoke --event "$(EVENT)" --env-vars "$(ENV)" $(strip $(INVOKE_FLAGS))

# The build comes first: tests/build checks the real deployment artifact.
test: $(STAMP) build ## sam build, then every test (unit, integration, template, build)
	@echo "==> running the tests"
	$(PY) -m pytest

lint: $(STAMP) ## ruff (lint and format check) and mypy --strict
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	@echo "==> checking the targets files"
	PYTHONPATH=src $(PY) -m ws_exchange.targets src/targets.json local_stack/targets.json

$(SAM_STAMP): requirements-sam.txt
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "make: need python3.13 (or python3 >= 3.11) on PATH" >&2; exit 1; }
	@echo "==> creating $(SAM_VENV) for the AWS SAM CLI"
	@rm -rf $(SAM_VENV)
	@$(BOOTSTRAP_PYTHON) -m venv $(SAM_VENV)
	@echo "==> installing the AWS SAM CLI into $(SAM_VENV) (about a minute on a fresh machine)"
	@$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	@touch $@
	@echo "==> $(SAM_VENV) ready"

# sam build (no container) needs the runtime's interpreter, python3.13, on PATH.
build: $(SAM_STAMP) ## sam build into .aws-sam/ (needs python3.13)
	@test -n "$(RUNTIME_PYTHON)" || { echo "make: sam build needs python3.13 on PATH (the function's runtime); install it, or run 'sam build --use-container' with Docker" >&2; exit 1; }
	@echo "==> sam build (python3.13: $(RUNTIME_PYTHON))"
	@PATH="$(dir $(RUNTIME_PYTHON)):$$PATH" SAM_CLI_TELEMETRY=0 \
	  $(SAM_VENV)/bin/sam build --no-cached

# Not a test: our handler against the raw library and the naive script
# (bench/README.md). Bench-only dependencies go into the same .venv.
bench: $(STAMP) $(SAM_STAMP) ## benchmark against the raw library and a naive handler (bench/README.md)
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PY) -m bench

clean: ## remove the environments, the build and the caches
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .local-stack .bench .pytest_cache .mypy_cache .ruff_cache
