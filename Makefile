# Digital Leaders API. `make run` serves it on SQLite with demo data; `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/dl_test
CHECK_DB := var/check.db

.PHONY: install lock run test test-fast test-sqlite test-postgres check fmt openapi lint-openapi client-check migrate bench clean

# The locked versions, each checked against its hash; then the app itself, without deps.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Resolves pyproject.toml again: the runtime lock (the Docker image) and the dev lock (CI,
# `make install`), every file pinned with its hashes. Pins already there are kept unless
# pyproject needs others; `make lock UPGRADE=--upgrade` takes the newest releases. `make check`
# fails when pyproject and the locks disagree.
UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --quiet \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 $(UPGRADE)
lock:
	@test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet uv
	$(UV_COMPILE) -o requirements/runtime.txt
	$(UV_COMPILE) --extra dev -o requirements/dev.txt

migrate: install
	$(VENV)/bin/alembic upgrade head

run: install migrate
	$(PY) -m app.manage load-demo
	$(VENV)/bin/uvicorn app.asgi:app --host 127.0.0.1 --port 8000 --no-server-header

# The suite on SQLite, then on PostgreSQL when one answers (TEST_DATABASE_URL or local).
test: install
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$TEST_DATABASE_URL" ] || $(PY) -m tests.pg_available "$(PG_TEST_URL)"; then \
		$(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL not reachable: skipped the PostgreSQL pass"; fi

test-sqlite: install
	TEST_DATABASE_URL= $(VENV)/bin/pytest -q -p no:cacheprovider

# A quick local loop: the SQLite pass without the contract fuzz (CI's `make test` keeps it).
test-fast: install
	TEST_DATABASE_URL= $(VENV)/bin/pytest -q -p no:cacheprovider --ignore=tests/test_contract_fuzz.py

test-postgres: install
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-$(PG_TEST_URL)} $(VENV)/bin/pytest -q -p no:cacheprovider
	@echo "PostgreSQL pass: done"

check: install
	$(VENV)/bin/ruff check app tests bench alembic
	$(VENV)/bin/ruff format --check app tests bench alembic
	$(VENV)/bin/mypy app
	$(VENV)/bin/lint-imports
	$(PY) -m tests.lockfile
	$(PY) -m app.manage openapi --check
	@mkdir -p var && rm -f $(CHECK_DB)
	DL_DATABASE_URL=sqlite+aiosqlite:///$(CHECK_DB) $(VENV)/bin/alembic upgrade head >/dev/null 2>&1
	DL_DATABASE_URL=sqlite+aiosqlite:///$(CHECK_DB) $(VENV)/bin/alembic check
	@rm -f $(CHECK_DB)

# Rewrites the tree in the house style and fixes what the linter can fix by itself.
fmt: install
	$(VENV)/bin/ruff check --fix --quiet app tests bench alembic
	$(VENV)/bin/ruff format app tests bench alembic

openapi: install
	$(PY) -m app.manage openapi

# A standard OpenAPI linter (Spectral's OAS ruleset) over the committed contract; needs npx.
lint-openapi:
	npx --yes @stoplight/spectral-cli@6 lint openapi/openapi.json --ruleset .spectral.yaml --fail-severity=warn

# Types generated from the committed contract (openapi-typescript), then a small client script
# type-checked against them (tsc): a contract change that breaks clients fails here. Needs npm.
client-check:
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error && npm run --silent generate && npx --no-install tsc --noEmit
	@echo "TypeScript client: types generated and the client type-checks"

bench: install
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) var
