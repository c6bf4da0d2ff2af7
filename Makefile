# The two commands: `make run` and `make test`. Both bootstrap .venv from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# mypy's Django plugin imports the settings, which only parse these two URLs: placeholders
# keep it from starting the embedded PostgreSQL and Redis, and nothing connects to them.
MYPY := DATABASE_URL=postgresql://localhost/helpdesk REDIS_URL=redis://localhost:6379/0 \
	$(VENV)/bin/mypy

.PHONY: run test test-faults lint bench migrate setup stop clean venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Database roles, migrations and the demo tenant; every step is idempotent.
setup: venv
	$(PY) manage.py setup_database
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo

# Web on :8000, a Celery worker, beat and the SMTP listener on :2525; Ctrl-C stops them all.
run: setup
	exec $(PY) manage.py run_all

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(MYPY)
	$(PY) -m helpdesk.core.embedded exec -- $(PY) -m pytest -n auto -m "not faults" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-faults

# The fault tests (tests/faults/) stop Redis, PostgreSQL and the worker of a private stack
# for tens of seconds each: `make test` runs them last, on their own, so the parallel run
# does not starve them. Exit status 5 (PYTEST_ARGS selected no fault test) is a pass.
test-faults: venv
	$(PY) -m helpdesk.core.embedded exec -- $(PY) -m pytest -m faults $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(MYPY)

bench: setup
	$(PY) -m bench.run
	$(PY) -m bench.quotes

migrate: venv
	$(PY) manage.py migrate --no-input

# Stop the embedded PostgreSQL and Redis (make run stops them itself on Ctrl-C).
stop: venv
	$(PY) -m helpdesk.core.embedded stop

clean: stop
	rm -rf var
