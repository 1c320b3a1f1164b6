# friendsgroup: `make serve` to run it, `make test` to test it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# pytest workers: two by default (this suite is I/O-bound on the database).
PYTEST_WORKERS ?= 2

.PHONY: serve test lint bench bench-quick install install-dev clean screenshots translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## serve: install, migrate the database, load the HAIP seeds, serve on $(HOST):$(PORT)
serve: install
	$(BIN)/friendsgroup db upgrade
	$(BIN)/friendsgroup seed
	$(BIN)/friendsgroup serve --host $(HOST) --port $(PORT)

## test: the layers, the lint and the whole suite with branch coverage (SQLite, or
## PostgreSQL when TEST_DATABASE_URL is set); fails under the coverage floor of pyproject.toml
test: install-dev
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench

## bench: the performance figures (bench/README.md) on PostgreSQL (BENCH_DATABASE_URL)
bench: install-dev
	$(BIN)/python -m bench.run

## bench-quick: a small run that checks the benchmark itself works
bench-quick: install-dev
	$(BIN)/python -m bench.run --quick

## screenshots: the README's pictures of the pages (docs/*.png), in headless Chromium
screenshots: install-dev
	$(BIN)/python -m tests.screenshots

## translations: extract the pages' messages into the catalogues, then compile them
translations: install-dev
	$(BIN)/python -m friendsgroup.web.catalogue update
	$(BIN)/python -m friendsgroup.web.catalogue compile

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.sqlite3*
