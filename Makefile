# Lasair-NB: the two set-up commands are `make up` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Users' notebook servers run as their own OS accounts, from an environment every account
# can read: Debian's Python (a pyenv Python under /root is closed to them).
USER_PYTHON ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || echo $(PYTHON))
USER_ENV := .venv-user
USER_STAMP := $(USER_ENV)/.installed

.PHONY: up test test-fast install lint bench down clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[kafka,widgets,hub,test]'
	@# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
	@command -v chromium >/dev/null 2>&1 || (apt-get install -y -qq chromium >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null 2>&1)) \
	  || echo "warning: no Chromium; the browser tests will be skipped"
	@# Aladin Lite for the sky widgets, from the npm registry (checked against its sha512).
	$(BIN)/lasair-nb widgets fetch-assets || echo "warning: Aladin Lite not fetched; sky widgets will say how"
	@# The hub's proxy: the official configurable-http-proxy, from npm, inside the venv.
	npm install --silent --no-fund --no-audit --prefix $(VENV) configurable-http-proxy@5 \
	  || echo "warning: configurable-http-proxy not installed; the hub will not start"
	touch $(STAMP)

$(USER_STAMP): pyproject.toml
	$(USER_PYTHON) -m venv $(USER_ENV)
	$(USER_ENV)/bin/pip install --quiet --upgrade pip
	$(USER_ENV)/bin/pip install --quiet -e '.[widgets,hub]'
	$(USER_ENV)/bin/python -m kernel install --prefix $(CURDIR)/$(USER_ENV)
	chmod -R a+rX $(USER_ENV)
	touch $(USER_STAMP)

install: $(STAMP) $(USER_STAMP)

## up: install, start the platform on embedded defaults: archive (embedded PostgreSQL),
##     Kafka broker (Tansu), a simulated ZTF stream (a night every few minutes) and the
##     ingester. ALERTS="PATH ..." also ingests alert files, directories or tarballs.
up: $(STAMP) $(USER_STAMP)
	$(BIN)/lasair-nb up
	@if [ -n "$(ALERTS)" ]; then $(BIN)/lasair-nb ingest files $(ALERTS); fi
	@echo
	@echo "Lasair-NB is up. Where to go:"
	@echo "  the hub (JupyterLab for each user): http://127.0.0.1:$${LASAIR_HUB_PORT:-8000}/"
	@echo "    first administrator: sign up at http://127.0.0.1:$${LASAIR_HUB_PORT:-8000}/hub/signup as"
	@echo "    '$${LASAIR_HUB_ADMINS:-admin}' (LASAIR_HUB_ADMINS), then approve new users at /hub/authorize"
	@echo "  ingestion status:  $(BIN)/lasair-nb status"
	@echo "  query the archive: $(BIN)/lasair-nb sql \"SELECT objectid, ncand, context FROM objects LIMIT 10\""
	@echo "  connect (SQLAlchemy/psql): $$($(BIN)/lasair-nb db url)"
	@echo "  users (over TCP, by password): $(BIN)/lasair-nb users add NAME, then postgresql://NAME:PASSWORD@127.0.0.1:$${LASAIR_DB_PORT:-54320}/lasair"
	@echo "  stop everything:   make down"

## test: install what the tests need, lint, check the import layers, run the whole suite.
test: $(STAMP) $(USER_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest

## test-fast: the inner loop (under two minutes): lint, layers, every test not marked slow.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not slow" -q

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench.ingest

down: $(STAMP)
	$(BIN)/lasair-nb down

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
