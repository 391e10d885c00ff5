# Every target a newcomer needs; `make` or `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV ?= .venv
STAMP := $(VENV)/.installed
PY := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?=
# The first Python that is 3.11 or newer.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { command -v $$p; break; }; done)

.PHONY: help venv demo test test-fast lint format bench clean distclean

help: ## List the targets (this text)
	@echo "Claims adjudication service: make <target>"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv and install the project with dev tools (re-runs when pyproject.toml changes)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: Python 3.11+ not found; install python3.11"; exit 1; fi
	@if [ ! -x $(PY) ]; then echo "==> creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	@echo "==> installing the project and dev tools into $(VENV) (durable-rules compiles C: 1-3 min the first time)"
	@$(PY) -m pip install --disable-pip-version-check -e '.[dev]' 2>&1 | tee $(VENV)/pip.log \
		| grep -E --line-buffered '^(Collecting|Building|Successfully|Installing)'; \
		if [ $${PIPESTATUS[0]} -ne 0 ]; then echo "error: pip install failed; last lines:"; \
		tail -n 20 $(VENV)/pip.log; exit 1; fi
	@$(PY) -c 'import service, durable' || { echo "error: install failed; see $(VENV)/pip.log"; exit 1; }
	@touch $(STAMP)
	@echo "==> $(VENV) ready"

demo: venv ## Run the demo on ./instance (ARGS: --once to exit after the table, --fresh to start over, --port N)
	@$(PY) -m devtools.demo run $(ARGS)

test: venv ## Lint (ruff check), then the whole suite against PostgreSQL and Redis (CI); the 20 slowest tests
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check .
	@$(PY) scripts/ensure-services.py -- $(VENV)/bin/pytest --durations=20 $(PYTEST_ARGS); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

test-fast: venv ## Unit tests but the slow ones (fakes and SQLite, no servers), fewer property examples
	@PROPERTY_EXAMPLES=$${PROPERTY_EXAMPLES:-25} $(VENV)/bin/pytest -q tests/unit -m "unit and not slow" \
		-p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

lint: venv ## ruff, layering contracts (lint-imports), dead code (vulture), mypy strict
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check .
	@echo "==> ruff format --check"
	@$(VENV)/bin/ruff format --check .
	@echo "==> lint-imports (contracts in pyproject.toml)"
	@$(VENV)/bin/lint-imports
	@echo "==> vulture (whitelist: scripts/vulture_whitelist.py)"
	@$(VENV)/bin/vulture
	@echo "==> mypy --strict: domain, use cases, data layer, worker"
	@$(VENV)/bin/mypy service/domain service/usecases service/db worker \
		service/ports.py service/clock.py service/config.py

format: venv ## Apply ruff's fixes and formatting
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

bench: venv ## Run every bench/*.py
	@shopt -s nullglob; files=(bench/*.py); \
		if [ $${#files[@]} -eq 0 ]; then echo "no benchmarks in bench/"; exit 0; fi; \
		for f in "$${files[@]}"; do echo "==> $$f"; $(PY) "$$f" || exit 1; done

clean: ## Remove caches and build leftovers (keeps .venv)
	@rm -rf .pytest_cache .ruff_cache .mypy_cache build dist *.egg-info
	@find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} + 
	@echo "==> cleaned"

distclean: clean ## clean, and remove .venv and instance/
	@rm -rf $(VENV) instance
