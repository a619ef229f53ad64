# Hermes — `make` (or `make help`) lists every target.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
SEARCH_PORT ?= 8080
FULL_LOAD_PORT ?= 8081
DELTA_LOAD_PORT ?= 8082

##@ Getting started

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
	  /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

.PHONY: install
install: $(VENV)/.installed ## Create .venv and install Hermes with its dev tools

.PHONY: dev
dev: install es-up ## Run Hermes locally end to end: Elasticsearch, the 3 functions, a sample full load
	SEARCH_PORT=$(SEARCH_PORT) FULL_LOAD_PORT=$(FULL_LOAD_PORT) DELTA_LOAD_PORT=$(DELTA_LOAD_PORT) \
	  ES_URL="$$($(PY) scripts/local_es.py url)" bash scripts/dev.sh

##@ Quality

.PHONY: test
test: install ## Run every test (starts a real Elasticsearch unless ES_URL is set)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: install ## Ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

.PHONY: fmt
fmt: install ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: typecheck
typecheck: install ## mypy --strict on the shared package
	$(VENV)/bin/mypy

.PHONY: check
check: lint typecheck test ## Everything CI runs

##@ Elasticsearch (local, no Docker)

.PHONY: es-fetch
es-fetch: ## Download Elasticsearch (integ-test-zip) with Maven into the cache
	$(PYTHON) scripts/local_es.py fetch

.PHONY: es-up
es-up: ## Start the local dev Elasticsearch (port 9200 unless HERMES_ES_PORT)
	$(PYTHON) scripts/local_es.py up

.PHONY: es-down
es-down: ## Stop the local dev Elasticsearch
	$(PYTHON) scripts/local_es.py down
