# Sentinelle — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
LINT_PATHS := geo incidents alerts api tests bench

.PHONY: run test bench lint typecheck demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	@touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[test]'
	@touch $@ $(STAMP)

## Create .venv, install, migrate the embedded SQLite database under ./var/ and serve on :8000.
run: $(STAMP)
	$(BIN)/sentinelle db upgrade
	$(BIN)/sentinelle serve

## Lint (below), then run the whole suite (PostgreSQL too when SENTINELLE_TEST_DATABASE_URL is set).
test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

## Benchmarks: print tables and write bench/results.json.
bench: $(TEST_STAMP)
	$(BIN)/python -m bench

## Style, formatting, import contracts and strict types of the pure modules (what `make test` runs first).
lint: $(TEST_STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/lint-imports
	$(BIN)/mypy

## Type-check the whole code base (the rest without strict) and report its errors; not a gate yet.
typecheck: $(TEST_STAMP)
	-$(BIN)/mypy geo incidents alerts api

demo: $(STAMP)
	$(BIN)/sentinelle demo

clean:
	rm -rf $(VENV) var
