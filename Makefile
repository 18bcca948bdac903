# The two commands a newcomer needs: `make run` (the whole pipeline) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# dagster-dbt finds `dbt` on PATH; the venv need not be activated.
export PATH := $(BIN):$(PATH)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# The dbt project the code location loads (AI_PLATFORM_DBT_PROJECT_DIR, default dbt_project/).
DBT_DIR := $(or $(AI_PLATFORM_DBT_PROJECT_DIR),dbt_project)
MANIFEST := $(DBT_DIR)/target/manifest.json
DBT_FILES := $(shell find $(DBT_DIR) -path $(DBT_DIR)/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' \) -print)

.PHONY: install install-dev manifest test-packages run dev test lint docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Parse dbt ahead of time, and again only when a dbt file changed.
$(MANIFEST): $(VENV)/.installed $(DBT_FILES)
	$(BIN)/dagster-dbt project prepare-and-package --file platform/ai_platform/features/project.py
	touch $@

manifest: $(MANIFEST)

# Linked once, only when DAGSTER_HOME has no dagster.yaml yet: a home set up with a deploy/ variant is kept.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	ln -s $(CURDIR)/dagster.yaml $@

run: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/ai-platform run

dev: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Tests spend much of their time waiting on servers and subprocesses: one worker more than the cores keeps every
# core busy (2 cores, quiet: 2 workers 464 s; 3 workers 405-438 s, the cores 96-97% busy).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# --dist loadscope hands out whole modules, so a module's fixture (weeks of pipeline) is built once, not once per
# worker; the tests marked `heavy` are handed out first (assets_tests/conftest.py), so no worker ends on one alone.
# Debian packages the tests start: the browser test (assets_tests/ui/) drives the system's Chromium (Playwright
# cannot download its own here); the Celery test's broker is a Redis server.
TEST_PACKAGES = chromium redis-server
test-packages:
	@missing=$$(for p in $(TEST_PACKAGES); do command -v $$p >/dev/null || echo $$p; done); \
	[ -z "$$missing" ] || { \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

test: install-dev $(MANIFEST) test-packages
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --durations=15

lint: install-dev
	$(BIN)/ruff check platform assets_tests bench
	$(BIN)/ruff format --check platform assets_tests bench
	cd $(DBT_DIR) && $(BIN)/sqlfluff lint

# dbt's documentation site (models, sources, columns, tests, lineage) in $(DBT_DIR)/target/docs. Column types come
# from the local warehouse when `make run` has built it; without one, dbt compiles against an in-memory DuckDB.
WAREHOUSE := $(or $(AI_PLATFORM_DATA_DIR),data)/warehouse/flights.duckdb
docs: install
	cd $(DBT_DIR) && $(BIN)/dbt docs generate --target-path target/docs $(if $(wildcard $(WAREHOUSE)),,--target compile)
	@echo "Serve it: cd $(DBT_DIR) && $(BIN)/dbt docs serve --target-path target/docs --port 8080"

bench: $(MANIFEST)
	$(BIN)/python bench/import_time.py
	$(BIN)/python bench/full_year.py
	$(BIN)/python bench/training.py
	$(BIN)/python bench/incremental_day.py --keep data/bench/histories
	$(BIN)/python bench/sensor_latency.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/report.py

clean:
	rm -rf data .dagster_home dbt_project/target dbt_project/logs
