# cartpole: `make train` trains, `make test` tests; both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SEEDS ?= 10

.DEFAULT_GOAL := help
.PHONY: help venv test lint train bench bench-solve bench-grid bench-metrics clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create .venv with the package, its dev tools, Ray and TensorBoard

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray,tensorboard]'
	touch $@

test: venv ## Lint and run the test suite
	$(BIN)/ruff check cartpole tests benchmarks
	$(BIN)/pytest

lint: venv ## Lint only
	$(BIN)/ruff check cartpole tests benchmarks

train: venv ## Train CartPole-v1 with the defaults (stops once solved)
	$(BIN)/cartpole train --seed 0

bench: bench-solve bench-grid bench-metrics ## Run every benchmark, rewrite docs/benchmarks.md (~12 min)

bench-solve: venv ## Time-to-solve against stable-baselines3 DQN (about 8 minutes)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.time_to_solve --seeds $(SEEDS) --out docs/benchmarks.md

bench-grid: venv ## Parallel efficiency of the grid: 8 trials, 1 worker vs 2
	$(BIN)/python -m benchmarks.grid_parallel --out docs/benchmarks.md

bench-metrics: venv ## Training time with and without metrics engines
	$(BIN)/python -m benchmarks.metrics_overhead --out docs/benchmarks.md

clean: ## Remove the venv, caches, runs and models
	rm -rf $(VENV) .pytest_cache .ruff_cache runs .models *.egg-info
