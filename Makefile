# The template's own tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := build/demo
# `make demo` needs cookiecutter only (pinned as the tests pin it); the rendered
# project's own Makefile builds the project's environment.
DEMO_VENV := build/demo-venv
COOKIECUTTER_PIN = $(shell grep -E '^cookiecutter==' tests/requirements.txt)
PYTEST_ARGS ?= -n auto

.PHONY: help demo test bench lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): tests/requirements*.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(foreach f,$(wildcard tests/requirements*.txt),-r $(f))
	touch $(STAMP)

$(DEMO_VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet '$(COOKIECUTTER_PIN)'
	touch $@

demo: $(DEMO_VENV)/.installed  ## render a project with the defaults, run its tests and a local invocation
	rm -rf $(DEMO)
	$(DEMO_VENV)/bin/cookiecutter --no-input . -o $(DEMO)
	$(MAKE) -C $(DEMO)/atlas-lambda-service test invoke

test: $(STAMP)  ## the template's whole test suite (renders every combination), ~23 min on 2 cores
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks vs the naive pattern, and each cold-start mode, ~9 min (BENCH_ARGS=--suite adds the suite time)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: $(STAMP)  ## ruff over the hooks, the Jinja extension and the template's tests
	$(BIN)/ruff check hooks tests atlas_lambda_extension.py
	$(BIN)/ruff format --check hooks tests atlas_lambda_extension.py

clean:  ## remove the venvs, toolchains and rendered demo
	rm -rf $(VENV) .toolchains build
