# Two commands: `make run` serves Voice Lab, `make test` runs lint (ruff, mypy) and every test
# (the PostgreSQL ones too when VOICE_LAB_TEST_POSTGRES names a server; `make test-pg` runs
# those alone on a throwaway cluster).
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: run test test-pg lint format bench

$(STAMP): requirements.txt requirements-dev.txt
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

test: lint
	$(VENV)/bin/pytest

test-pg: $(STAMP)
	.ci/postgres.sh $(VENV)/bin/pytest tests -k postgresql

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(VENV)/bin/python -m bench
