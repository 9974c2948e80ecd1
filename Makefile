# Sentinelle — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test bench lint demo clean

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

## Install the test extras and run the whole suite (PostgreSQL too when SENTINELLE_TEST_DATABASE_URL is set).
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

## Benchmarks: print tables and write bench/results.json.
bench: $(TEST_STAMP)
	$(BIN)/python -m bench

lint: $(TEST_STAMP)
	$(BIN)/ruff check geo incidents alerts api tests bench
	$(BIN)/lint-imports

demo: $(STAMP)
	$(BIN)/sentinelle demo

clean:
	rm -rf $(VENV) var
