# Lasair-NB: the two set-up commands are `make up` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test install lint bench down clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## up: install, start the archive (embedded PostgreSQL), ingest ALERTS if given.
##     make up ALERTS="../shared/data/ztf/alerts ztf_public_20210901.tar.gz"
up: $(STAMP)
	$(BIN)/lasair-nb db start
	@if [ -n "$(ALERTS)" ]; then $(BIN)/lasair-nb ingest files $(ALERTS); fi
	@echo
	@echo "Lasair-NB archive is up."
	@echo "  query it:   $(BIN)/lasair-nb sql \"SELECT count(*) FROM candidates\""
	@echo "  ingest:     $(BIN)/lasair-nb ingest files PATH...   (or: make up ALERTS=PATH)"
	@echo "  connect:    $$($(BIN)/lasair-nb db url)"
	@echo "  stop:       $(BIN)/lasair-nb db stop"

## test: install what the tests need, lint, run the whole suite.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench.ingest

down: $(STAMP)
	$(BIN)/lasair-nb db stop

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
