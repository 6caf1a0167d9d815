# The two commands of the README: `make run` and `make test`. Both work on a fresh machine
# with Python 3.11+; everything goes into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test lint audit format messages makemessages migrate seed worker beat web bench clean api-docs

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Compiled with Babel, so no system gettext is needed to run or test.
messages: $(VENV)/.runtime
	$(BIN)/pybabel -q compile -d locale -D django
	$(BIN)/pybabel -q compile -d locale -D djangojs

makemessages: $(VENV)/.runtime
	$(PY) manage.py makemessages -l zh_Hans --ignore '.venv/*' --ignore 'var/*' --no-obsolete

migrate: $(VENV)/.runtime
	$(PY) manage.py migrate --no-input

seed: migrate
	$(PY) manage.py seed_demo

run: messages seed
	./scripts/run.sh

# ruff (pyproject.toml): CI fails on a lint finding or an unformatted file; lint-imports holds the
# layers (imports point down: core <- membership <- campaigns <- pos, analytics, memberweb <- portal);
# bandit: security findings, each fixed or `# nosec BXXX` with its reason in docs/decisions.md. Its
# warnings ("nosec encountered … but no failed test", printed for every nosec of B608) are shown only
# when it fails. scripts/lint_migrations.sh: django-migration-linter on PostgreSQL's SQL fails on a
# migration the release still serving would not survive (skipped without DATABASE_URL; CI sets it).
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	@mkdir -p var
	$(BIN)/bandit -c pyproject.toml -r . -q 2>var/bandit.log || { cat var/bandit.log; exit 1; }
	./scripts/lint_migrations.sh

# pip-audit: known vulnerabilities of the runtime requirements and what they pull in; --strict fails on
# one it cannot audit too. It asks PyPI's JSON API: .ci/run runs it only when that answers from the
# machine (scripts/audit_service.py) and says so when it skips it.
audit: $(VENV)/.dev
	$(BIN)/pip-audit --strict --progress-spinner off -r requirements.txt

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(VENV)/.dev messages
	./scripts/test.sh $(ARGS)

# The endpoint table of docs/api.md, from the OpenAPI schema.
api-docs: $(VENV)/.runtime
	$(PY) manage.py api_docs --write docs/api.md

bench: $(VENV)/.dev
	$(PY) -m bench $(ARGS)

clean:
	rm -rf var/broker var/staticfiles .pytest_cache
