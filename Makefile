# correlator — run `make help` for the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test test-core chaos lint format bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install correlator with its dev tools

demo: $(STAMP) ## Run the product: local Kafka, worker, simulator and the war room
	$(BIN)/correlator demo

test: $(STAMP) ## Run every test: lint, types, core, real Kafka and SQL integration
	$(BIN)/ruff check correlator tui tests benchmarks
	$(BIN)/ruff format --check correlator tui tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q

test-core: $(STAMP) ## Only the fast pure-core tests
	$(BIN)/pytest -q tests/core

SCENARIOS ?=
chaos: $(STAMP) ## Full chaos scenarios on real Kafka (SCENARIOS="overload tests/x.py::t" to pick)
	$(BIN)/python tests/chaos/run_chaos.py $(SCENARIOS)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check correlator tui tests benchmarks
	$(BIN)/mypy

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff format correlator tui tests benchmarks
	$(BIN)/ruff check --fix correlator tui tests benchmarks

bench: $(STAMP) ## Run the benchmarks (figures as ratios against a baseline of the same run)
	$(BIN)/python -m benchmarks

clean: ## Remove caches (not the Kafka jar cache in ~/.cache/correlator)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
