# The template's own tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := build/demo
PYTEST_ARGS ?= -n auto

.PHONY: help demo test bench lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): tests/requirements*.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(foreach f,$(wildcard tests/requirements*.txt),-r $(f))
	touch $(STAMP)

demo: $(STAMP)  ## render a project with the defaults, run its tests and a local invocation
	rm -rf $(DEMO)
	$(BIN)/cookiecutter --no-input . -o $(DEMO)
	$(MAKE) -C $(DEMO)/atlas-lambda-service test invoke

test: $(STAMP)  ## the template's whole test suite (renders every combination)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks vs the naive pattern, ~3 min (BENCH_ARGS=--suite adds the suite time)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: $(STAMP)  ## ruff over the hooks and the template's tests
	$(BIN)/ruff check hooks tests
	$(BIN)/ruff format --check hooks tests

clean:  ## remove the venv, toolchains and rendered demo
	rm -rf $(VENV) .toolchains build
