# The two commands: `make run` and `make test`. Both bootstrap .venv from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Bytecode caches are written even where the environment says not to (a container image
# may set PYTHONDONTWRITEBYTECODE): without pytest's cached rewrites, every test process
# parses and rewrites all test modules for their assertions again, about 7 s of CPU each
# (collecting the suite: 9.6 s of CPU without the caches, 2.8 s with them).
unexport PYTHONDONTWRITEBYTECODE
# mypy's Django plugin imports the settings, which only parse these two URLs: placeholders
# keep it from starting the embedded PostgreSQL and Redis, and nothing connects to them.
MYPY := DATABASE_URL=postgresql://localhost/helpdesk REDIS_URL=redis://localhost:6379/0 \
	$(VENV)/bin/mypy

.PHONY: run test test-suite test-faults screenshots lint bench migrate setup stop clean venv

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

# Three parts at once, since the fault tests mostly wait on their outages: the checks
# (`make lint`), the suite in parallel (`make test-suite`) and the fault tests
# (`make test-faults`). Each part's output is held back and printed whole when that part
# ends (make --output-sync); every part runs to its end (--keep-going), and `make test`
# fails when any part failed. The embedded PostgreSQL and Redis are started once, for all
# three.
test: venv
	$(PY) -m helpdesk.core.embedded exec -- \
		$(MAKE) --no-print-directory --keep-going -j3 --output-sync=target lint test-suite test-faults

# Every test but the fault tests, in parallel (xdist): two processes per core, since many
# tests wait on a worker, a browser or a server, and idle ones steal queued tests from
# busy ones, so that a few long tests do not finish alone at the end (on 2 cores, 1,639
# tests: 263 s; 325 s without work stealing, 2 processes slower still). At most 8: each
# needs a Redis database of its own (tests/conftest.py).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(8, 2 * (os.cpu_count() or 1)))")
test-suite: venv
	$(PY) -m helpdesk.core.embedded exec -- \
		$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not faults" $(PYTEST_ARGS)

# The fault tests (tests/faults/) stop Redis, PostgreSQL and the worker of a private stack
# for tens of seconds each. Exit status 5 (PYTEST_ARGS selected no fault test) is a pass.
test-faults: venv
	$(PY) -m helpdesk.core.embedded exec -- $(PY) -m pytest -m faults $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The browser tests again, saving what they show: the pictures the README uses go to
# docs/screenshots, the rest to helpdesk-browser/ in the temporary directory. Look at
# them before calling a page done (`make test` takes none).
screenshots: venv
	HELPDESK_SCREENSHOTS=1 $(PY) -m helpdesk.core.embedded exec -- \
		$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m browser $(PYTEST_ARGS)

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
