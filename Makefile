# Hermes — `make` (or `make help`) lists every target.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# `make test` and `make test-fast` run in pytest-xdist workers sharing one Elasticsearch (tests/support/shared_es.py);
# most of a test's time is waiting (Elasticsearch, function processes, slices), so 4 pay on 2 cores. A module stays
# on one worker (--dist loadfile): its module-scoped corpora and processes are set up once. The modules are handed
# out in tests/conftest.py's order (--no-loadscope-reorder): those needing no Elasticsearch first, while the shared
# one starts. PYTEST_WORKERS=0: serial.
PYTEST_WORKERS ?= 4
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
# `make test-matrix`: the oldest supported 8.x, the newest 8.x (what `make test` runs), the newest 9.x.
ES_MATRIX ?= 8.11.4 8.19.21 9.5.4
MATRIX_REPORT ?= docs/compatibility.md
# The matrix versions `make test` does not run (it runs HERMES_ES_VERSION, default 8.19.21): `make check` runs these.
MATRIX_REST = $(filter-out $(shell $(PYTHON) -m scripts.local_es version),$(ES_MATRIX))
# Each matrix leg skips what does not depend on the server's version: tests/deploy (manifests, images,
# Knative's data plane), `make dev` and the browser tests (the playground, the InstantSearch page).
MATRIX_PYTEST_ARGS ?= tests/unit tests/integration --ignore=tests/integration/tooling/test_dev.py \
  --ignore=tests/integration/search/test_playground.py --ignore=tests/integration/search/test_instantsearch_page.py
SEARCH_PORT ?= 8080
FULL_LOAD_PORT ?= 8081
DELTA_LOAD_PORT ?= 8082
DEV_SOURCE_PORT ?= 8090
DEMO ?= cities

##@ Getting started

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
	  /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

# The tests run on the versions the images ship: requirements.lock constrains the install.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint requirements.lock -e '.[dev]'
	touch $@

.PHONY: install
install: $(VENV)/.installed ## Create .venv and install Hermes with its dev tools

# The InstantSearch example's npm packages (exact versions, package-lock.json), for its browser test.
NPM_EXAMPLE := examples/instantsearch
$(NPM_EXAMPLE)/node_modules/.package-lock.json: $(NPM_EXAMPLE)/package.json $(NPM_EXAMPLE)/package-lock.json
	cd $(NPM_EXAMPLE) && npm ci --no-audit --no-fund --loglevel=error

.PHONY: npm-deps
npm-deps: $(NPM_EXAMPLE)/node_modules/.package-lock.json ## Install the InstantSearch example's npm packages (npm ci)

.PHONY: dev
dev: install ## Run Hermes locally end to end: ES, demo cities (DEMO=library: books), the 3 functions, a PingSource
	DEV_DEMO=$(DEMO) SEARCH_PORT=$(SEARCH_PORT) FULL_LOAD_PORT=$(FULL_LOAD_PORT) DELTA_LOAD_PORT=$(DELTA_LOAD_PORT) \
	  DEV_SOURCE_PORT=$(DEV_SOURCE_PORT) $(PY) -m scripts.dev

.PHONY: demo-change
demo-change: ## While `make dev` runs: update 3 demo cities, insert one, tombstone one (the next tick shows it)
	@curl -fsS -X POST http://127.0.0.1:$(DEV_SOURCE_PORT)/change; echo

.PHONY: dev-down
dev-down: es-down ## Stop what `make dev` leaves running (its Elasticsearch; data is kept)

##@ Quality

.PHONY: system-deps
system-deps: ## Install the machine packages the tests need (as root, apt-get), or say which are missing
	bash scripts/system_deps.sh

.PHONY: test
test: install system-deps npm-deps ## Run every test (starts a real Elasticsearch; builds the deploy checkers once)
	HERMES_TOOLS_BIN="$$(bash scripts/tools.sh)" $(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: install system-deps ## The fast loop: unit tests and the integration tests not marked slow
	$(PY) -m pytest tests/unit tests/integration -m "not slow" --hypothesis-profile=fast $(PYTEST_PARALLEL) $(PYTEST_ARGS)

.PHONY: test-matrix
test-matrix: install ## Run unit + integration tests against each Elasticsearch in ES_MATRIX; writes MATRIX_REPORT
	$(PY) -m scripts.matrix $(if $(MATRIX_REPORT),--report $(MATRIX_REPORT)) $(ES_MATRIX) -- \
	  $(MATRIX_PYTEST_ARGS) $(PYTEST_ARGS)

.PHONY: resilience
resilience: install ## Every fault scenario at full size (3-node cluster, long fuzzing); writes docs/resilience.md
	HERMES_RESILIENCE=full HERMES_RESILIENCE_REPORT=docs/resilience.md HERMES_TOOLS_BIN="$$(bash scripts/tools.sh)" \
	  $(PY) -m pytest tests/resilience $(PYTEST_ARGS)

.PHONY: lock
lock: install ## Re-resolve requirements.lock from pyproject.toml (pip-compile) and regenerate requirements.txt
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url \
	  --no-emit-find-links --output-file=requirements.lock pyproject.toml
	$(PY) -m scripts.lock

.PHONY: tools
tools: ## Build helm, kustomize, kn (Go module proxy) and install checkov, cached outside the repo
	bash scripts/tools.sh

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
check: lint typecheck test ## Everything CI runs: lint, types, every test, the matrix's other versions, the cluster
	$(if $(strip $(MATRIX_REST)),$(MAKE) test-matrix MATRIX_REPORT= ES_MATRIX="$(MATRIX_REST)")
	$(MAKE) cluster-check

##@ Documentation

.PHONY: docs
docs: install ## Regenerate docs/configuration.md and the light readers' specs from the pydantic models
	$(PY) -m scripts.configuration_doc --write
	$(PY) -m scripts.light_specs --write

.PHONY: docs-check
docs-check: install ## Check every command the docs show: make targets, python -m modules, curl markers
	$(PY) -m scripts.docs_check

##@ Elasticsearch (local, no Docker)

.PHONY: es-fetch
es-fetch: ## Download Elasticsearch (integ-test-zip) with Maven into the cache
	$(PYTHON) -m scripts.local_es fetch

.PHONY: es-up
es-up: ## Start the local dev Elasticsearch (port 9200 unless HERMES_ES_PORT)
	$(PYTHON) -m scripts.local_es up

.PHONY: es-down
es-down: ## Stop the local dev Elasticsearch
	$(PYTHON) -m scripts.local_es down

##@ Test cluster (a real Kubernetes + Knative built from source, inside namespaces; root; docs/cluster.md)

.PHONY: cluster-build
cluster-build: ## Build (once, cached outside the repo) every binary of the test cluster
	bash scripts/cluster/build.sh >/dev/null

.PHONY: cluster
cluster: install system-deps cluster-build ## Start Kubernetes + Knative here in namespaces, install Hermes with helm, load it
	$(PY) -m scripts.cluster.node up
	$(PY) -m scripts.cluster.knative install
	bash tests/cluster/ingress/up.sh
	HERMES_TOOLS_BIN="$$(bash scripts/tools.sh)" $(PY) -m scripts.cluster.hermes_app install

.PHONY: cluster-down
cluster-down: ## Remove the test cluster (processes by PID, namespaces, state; sysctls restored). PURGE=1: its logs too
	$(PYTHON) -m scripts.cluster.node down $(if $(PURGE),--purge)

.PHONY: cluster-test
cluster-test: cluster ## Hermes end to end on the test cluster (brings it up first; leaves it running)
	HERMES_CLUSTER_TEST=1 HERMES_TOOLS_BIN="$$(bash scripts/tools.sh)" $(PY) -m pytest -s tests/cluster $(PYTEST_ARGS)

.PHONY: cluster-check
# make check's cluster leg. A cold build of the cluster's binaries takes ~25 min on 2 cores (docs/cluster.md
# § Building), which would take a fresh machine's CI past an hour: so the leg runs whenever that build cache
# is warm, and says why it skips otherwise. It leaves running only what was running before it.
cluster-check: ## cluster-test when the test cluster's binaries are built (and root); then down again
	@if [ "$$(id -u)" != 0 ] || ! bash scripts/cluster/build.sh --check >/dev/null 2>&1; then \
	  echo "cluster-check: SKIPPED: the test cluster needs root and its binaries built (make cluster-build)"; \
	  exit 0; fi; \
	$(PYTHON) -c 'from scripts.cluster import lifecycle; raise SystemExit(not lifecycle.is_up())' && exec $(MAKE) cluster-test; \
	es_was_up=0; $(PYTHON) -m scripts.local_es url >/dev/null 2>&1 && es_was_up=1; \
	undo() { rc=$$?; $(PYTHON) -m scripts.cluster.node down || rc=1; [ $$es_was_up = 1 ] || $(PYTHON) -m scripts.local_es down; exit $$rc; }; \
	trap undo EXIT; trap 'exit 130' INT TERM; \
	$(MAKE) cluster-test

.PHONY: cluster-hotfix
cluster-hotfix: install ## Rebuild one function's image and ship it with kn service update (FUNCTION=search)
	HERMES_TOOLS_BIN="$$(bash scripts/tools.sh)" $(PY) -m scripts.cluster.hotfix $(FUNCTION)

.PHONY: cluster-conformance
cluster-conformance: ## Knative's own ingress conformance tests against the test bed's ingress
	bash tests/cluster/ingress/conformance.sh

##@ Benchmarks

.PHONY: bench
bench: install ## Run the benchmarks (own Elasticsearch + generated source); writes docs/benchmarks.md
	$(PY) -m bench.run

##@ Deploy (needs pack + Docker, kubectl, helm, kn and a cluster with Knative)

IMAGE_REPO ?= registry.example.com/hermes
IMAGE_TAG ?= 0.1.0
BUILDER ?= gcr.io/buildpacks/builder:google-22
NAMESPACE ?= hermes
FUNCTION ?= search
IMAGE ?=
URL ?= http://127.0.0.1:$(FULL_LOAD_PORT)/
DELTA_URL ?= http://127.0.0.1:$(DELTA_LOAD_PORT)/

.PHONY: images
images: ## Build the 3 function images with pack (IMAGE_REPO, IMAGE_TAG)
	for fn in search:search delta_load:delta-load full_load:full-load; do \
	  src=$${fn%%:*}; img=$${fn##*:}; \
	  pack build "$(IMAGE_REPO)/$$img:$(IMAGE_TAG)" --path . --builder "$(BUILDER)" \
	    --env GOOGLE_FUNCTION_TARGET=$$src --env GOOGLE_FUNCTION_SOURCE=functions/$$src/main.py; \
	done

.PHONY: deploy
deploy: ## helm upgrade --install the chart into NAMESPACE (extra flags: HELM_ARGS)
	helm upgrade --install hermes helm/hermes --namespace $(NAMESPACE) --create-namespace $(HELM_ARGS)

.PHONY: apply
apply: ## kubectl apply -k knative/
	kubectl apply -k knative/

.PHONY: hotfix
hotfix: ## Ship one image now: make hotfix FUNCTION=search IMAGE=repo/search@sha256:…
	@test -n "$(IMAGE)" || { echo "IMAGE=… is required"; exit 2; }
	kn service update hermes-$(subst _,-,$(FUNCTION)) --namespace $(NAMESPACE) --image $(IMAGE)

.PHONY: full-load
full-load: ## POST a dev.hermes.load.full CloudEvent (binary mode) to URL (default: make dev's port)
	curl -fsS -X POST "$(URL)" -H "Ce-Specversion: 1.0" -H "Ce-Type: dev.hermes.load.full" \
	  -H "Ce-Source: make" -H "Ce-Id: $$(date +%s%N)" -H "Content-Type: application/json" -d '$(or $(DATA),{})'; echo

.PHONY: delta-load
delta-load: ## POST a dev.hermes.load.delta CloudEvent to DELTA_URL (default: make dev's port)
	curl -fsS -X POST "$(DELTA_URL)" -H "Ce-Specversion: 1.0" -H "Ce-Type: dev.hermes.load.delta" \
	  -H "Ce-Source: make" -H "Ce-Id: $$(date +%s%N)" -H "Content-Type: application/json" -d '{}'; echo
