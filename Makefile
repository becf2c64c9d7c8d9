# make demo / make test do all the set-up on a fresh machine (a .venv made with python3 -m venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-faults test-slow test-all lint format bench clean

setup: $(STAMP)

# Re-installs whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[dev,demo]"
	touch $(STAMP)

demo: setup
	$(PY) -m artrec.tasks.demo

test: setup
	$(PY) -m pytest

# The heavier kill points of the fault-injection suite (CI runs them after `make test`).
test-faults: setup
	$(PY) -m pytest -m slow tests/faults

# Every slow test: the kill points, the demo's time budget, table 1's own sweep.
test-slow: setup
	$(PY) -m pytest -m slow

test-all: setup
	$(PY) -m pytest -m "slow or not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
