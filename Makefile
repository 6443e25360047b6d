# carloop: `make demo` runs the site with demo data; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL_DEFAULT := postgres://postgres@127.0.0.1:5432/postgres
export CARLOOP_TEST_DB_NAME ?= test_carloop
comma := ,

.PHONY: demo serve test test-fast test-pg lint bench bench-risk lock venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

lock:
	test -x $(BIN)/uv || ($(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet uv)
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev -o requirements.lock --python-version 3.11

# `make demo HOST=0.0.0.0 PORT=8080`: the demo runs with DEBUG off (CARLOOP_DEBUG=true to debug); a HOST other
# than the loopback or 0.0.0.0 is added to the allowed host names (CARLOOP_ALLOWED_HOSTS overrides them all).
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_URL = http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT)
demo: export CARLOOP_ALLOWED_HOSTS ?= 127.0.0.1,localhost,[::1]$(if $(filter-out 127.0.0.1 localhost 0.0.0.0,$(HOST)),$(comma)$(HOST))
demo: venv
	$(BIN)/carloop migrate --no-input
	$(BIN)/carloop seed --scale demo
	@echo "carloop is starting on $(DEMO_URL)  (API docs: $(DEMO_URL)/api/docs)"
	$(BIN)/carloop serve --single-process --host $(HOST) --port $(PORT)

serve: venv
	$(BIN)/carloop serve

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/carloop
	$(BIN)/lint-imports

test: lint test-fast test-pg

# The fast suite: SQLite in memory, everything except the PostgreSQL-only tests.
test-fast: venv
	env -u CARLOOP_DATABASE_URL $(BIN)/pytest -q -n 2 -p xdist

# The full suite on PostgreSQL: CARLOOP_TEST_DATABASE_URL, or a server on 127.0.0.1:5432 (required when CI=true).
test-pg: venv
	@url="$${CARLOOP_TEST_DATABASE_URL:-}"; \
	if [ -z "$$url" ] && $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then url="$(PG_URL_DEFAULT)"; fi; \
	if [ -z "$$url" ]; then \
	  if [ "$${CI:-}" = "true" ]; then echo "CI requires PostgreSQL: none answers on 127.0.0.1:5432"; exit 1; fi; \
	  echo "PostgreSQL not available: skipping the full suite (set CARLOOP_TEST_DATABASE_URL)"; exit 0; \
	fi; \
	echo "full suite on PostgreSQL"; \
	CARLOOP_DATABASE_URL="$$url" $(BIN)/pytest -q -n 2 -p xdist

bench: venv
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
	@echo "reports in bench/results/"

bench-risk: venv
	$(BIN)/python bench/bench_risk_german_credit.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
