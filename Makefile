# Sentinelle — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
LINT_PATHS := geo incidents alerts missions api reports tests bench

.PHONY: run test test-container bench lint typecheck demo clean

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

## Lint (below), then run the whole suite (PostgreSQL too when SENTINELLE_TEST_DATABASE_URL is set),
## on every core (pytest-xdist: each worker its own SQLite files and PostgreSQL database).
test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto --durations=25

## The container image alone (tests/container, also part of `test`): a Debian base made with
## mmdebstrap, docker/Dockerfile built by buildah and started on SQLite and PostgreSQL (when
## SENTINELLE_TEST_DATABASE_URL is set). Base and layers cached in /var/cache/sentinelle-test.
test-container: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 0 -rA -s -m slow tests/container

## Benchmarks: print tables and write bench/results.json.
bench: $(TEST_STAMP)
	$(BIN)/python -m bench

## Style, formatting, import contracts and types (what `make test`, hence CI, runs first).
lint: $(TEST_STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/lint-imports
	$(BIN)/mypy

## Types alone (the last step of `lint`): geo, incidents, alerts and api as [tool.mypy] in
## pyproject.toml says, strict on the pure modules, the rest without strict; any error fails.
typecheck: $(TEST_STAMP)
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/sentinelle demo

clean:
	rm -rf $(VENV) var
