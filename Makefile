# The two quick-start commands:  `make demo`  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint format clean

setup:
	@bash scripts/setup.sh

## Set up, then run the main job on the built-in demo data.
demo: setup
	$(VENV)/bin/hurricane-ode demo --output demo_output

## Set up, then lint, type-check and run the test suite (CPU, a few minutes).
test: setup
	$(VENV)/bin/ruff check hurricane_ode tests benchmarks
	$(VENV)/bin/mypy hurricane_ode
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check hurricane_ode tests benchmarks
	$(VENV)/bin/ruff format --check hurricane_ode tests benchmarks

format:
	$(VENV)/bin/ruff format hurricane_ode tests benchmarks
	$(VENV)/bin/ruff check --fix hurricane_ode tests benchmarks

clean:
	rm -rf demo_output .pytest_cache .ruff_cache .mypy_cache
