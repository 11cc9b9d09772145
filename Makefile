# Two commands: `make run` serves Voice Lab, `make test` runs lint (ruff, mypy) and every test
# (`make sdk` first bundles the Agents SDK for its e2e test, when npm is there; the PostgreSQL
# tests run too when VOICE_LAB_TEST_POSTGRES names a server; `make test-pg` runs those alone on
# a throwaway cluster).
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: run test test-pg lint sdk format bench

$(STAMP): requirements.txt requirements-testing.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/python app.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# npm installs e2e/sdk's locked packages and esbuild bundles its page, only when they changed.
sdk: $(STAMP)
	$(VENV)/bin/python -m e2e.sdk_bundle

test: lint sdk
	$(VENV)/bin/python -m voice_lab.testing.ready
	$(VENV)/bin/pytest

test-pg: $(STAMP)
	.ci/postgres.sh $(VENV)/bin/pytest tests -k postgresql

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(VENV)/bin/python -m bench
