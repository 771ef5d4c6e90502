# cartpole: `make train` trains, `make test` tests; both set up .venv first.
# The Seldon and KubeRay targets are in seldon/Makefile and kuberay/Makefile, included
# below; the Polyaxon ones in polyaxon/Makefile (`make -C polyaxon help`).
TOP_DIR := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
PYTHON ?= python3
VENV ?= .venv
SELDON_VENV ?= .venv-seldon
BIN := $(VENV)/bin
SEEDS ?= 10
# Extras installed into .venv: every engine, Ray, the servers the tests start, and Keras
# (the tests load our .h5 files in it).
EXTRAS ?= dev,ray,tensorboard,visdom,efk,mlflow,serving,keras
VISDOM_PORT ?= 8097
MODEL ?= .models/cartpole-rl-remote.h5
ifndef GROUP
GROUP := dev-$(shell date +%Y%m%d-%H%M%S)
endif
# The remote agent's make targets: a local server, and the agent against it.
SERVE_PORT ?= 9000
EPISODES ?= 20
RUNNERS ?= 4
ROUTER ?= epsilon-greedy
PREFERRED_BRANCH ?= 1
ifndef RUN_ID
RUN_ID := run-dev-$(shell date +%Y%m%d-%H%M%S)
endif
VISDOM_CONF := --metrics-engine visdom --metrics-config '{"port": $(VISDOM_PORT)}'

.DEFAULT_GOAL := help
.PHONY: help venv seldon-venv polyaxon-venv system-deps \
	docker-build docker-push env train-docker docker-visdom train-docker-visdom train-docker-efk \
	train-docker-mlflow train-docker-modeldb docker-down test test-fast lint train train-dev \
	visdom visdom-stop report bench bench-solve bench-startup bench-grid bench-search bench-metrics \
	bench-serve-stacks bench-remote run-dev run-dev-router-agent clean

# Every included Makefile's targets too; their own `help` (for make -C) is not listed twice.
help: ## List the targets, those of seldon/Makefile and kuberay/Makefile too
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} !seen[$$1]++ {printf "  %-27s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create .venv: the package, every metrics engine, Ray, dev tools

# Every venv is made with --clear: one that an interrupted make left half-installed (its
# .installed not yet written) is made again from scratch, not patched with a broken pip.

$(VENV)/.installed: pyproject.toml setup.py constraints/build.txt
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --build-constraint constraints/build.txt \
		-e '.[$(EXTRAS)]'
	touch $@

# Only what is missing: a Node.js from outside Debian already has npm, and Debian's npm
# package would conflict with it. docker-compose without its recommended engine, Prometheus
# without its recommended node exporter.
# Debian's prometheus package may start a service on every interface: the tests start
# their own on loopback, so the package's service is stopped and disabled again. So is
# the cluster that Debian's postgresql makes and starts on port 5432: the tests run
# /usr/lib/postgresql/<major>/bin/{initdb,postgres} (not on PATH) as the postgres user,
# on a cluster of their own (tests/servers.py).
system-deps: ## Chromium, npm, curl, envsubst, docker-compose, Prometheus, PostgreSQL for the tests (Debian; as root)
	@full=""; bare=""; \
	command -v chromium >/dev/null || full="$$full chromium"; \
	command -v npm >/dev/null || full="$$full npm"; \
	command -v curl >/dev/null || full="$$full curl"; \
	command -v envsubst >/dev/null || full="$$full gettext-base"; \
	command -v docker-compose >/dev/null || bare="docker-compose"; \
	command -v prometheus >/dev/null || bare="$$bare prometheus"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || bare="$$bare postgresql"; \
	if [ -n "$$full$$bare" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make system-deps: run as root, or install$$full $$bare yourself" >&2; \
			exit 1; fi; \
		apt-get update -qq || exit 1; \
		if [ -n "$$full" ]; then DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq $$full >/dev/null || exit 1; fi; \
		if [ -n "$$bare" ]; then DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$bare >/dev/null || exit 1; fi; \
		case "$$bare" in *prometheus*) \
			systemctl disable --now prometheus >/dev/null 2>&1 || \
			service prometheus stop >/dev/null 2>&1 || true;; esac; \
		case "$$bare" in *postgresql*) \
			systemctl disable --now postgresql >/dev/null 2>&1 || \
			service postgresql stop >/dev/null 2>&1 || true;; esac; \
	fi

# seldon-core 1.18.2 pins old numpy, protobuf, click and Flask: it gets a venv of its own,
# with our package on top without dependencies (serving needs only numpy and h5py).
seldon-venv: $(SELDON_VENV)/.installed ## Create .venv-seldon: seldon-core-microservice + our classes

$(SELDON_VENV)/.installed: seldon/requirements.txt pyproject.toml
	$(PYTHON) -m venv --clear $(SELDON_VENV)
	$(SELDON_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SELDON_VENV)/bin/python -m pip install --quiet -r seldon/requirements.txt
	$(SELDON_VENV)/bin/python -m pip install --quiet --no-deps -e . 2>/dev/null
	touch $@

# The polyaxon CLI and client (polyaxon/requirements.txt): the tests run `polyaxon check`
# and polyaxon/entry.py with it.
polyaxon-venv: .venv-polyaxon/.installed ## Create .venv-polyaxon: the polyaxon CLI and client

.venv-polyaxon/.installed: polyaxon/requirements.txt
	$(MAKE) --no-print-directory -C polyaxon cli PYTHON=$(PYTHON)

# MLServer 1.7 holds FastAPI below 0.116 and needs uvloop below 0.22 (see
# seldon/mlserver/requirements.txt): a venv of its own too, with our package on top without
# dependencies (cartpole.serving.mlserver.CartpoleRuntime needs only numpy and h5py).
# Editable in compat mode (a .pth entry, not an import hook): `mlserver start DIR` puts DIR
# on sys.path, and a model folder DIR/cartpole/ would otherwise shadow the package.
.PHONY: mlserver-venv
mlserver-venv: .venv-mlserver/.installed ## Create .venv-mlserver: mlserver 1.7 + our runtime

.venv-mlserver/.installed: seldon/mlserver/requirements.txt pyproject.toml
	$(PYTHON) -m venv --clear .venv-mlserver
	.venv-mlserver/bin/python -m pip install --quiet --upgrade pip
	.venv-mlserver/bin/python -m pip install --quiet -r seldon/mlserver/requirements.txt
	.venv-mlserver/bin/python -m pip install --quiet --no-deps -e . \
		--config-settings editable_mode=compat 2>/dev/null
	touch $@

# The whole suite (what .ci/run runs), on TEST_WORKERS pytest workers: most tests wait on
# the processes they start. It ends with its 15 slowest tests and its wall time as a
# multiple of one `import tensorflow` here. Tests sharing a server or Ray keep to one
# worker (xdist_group).
TEST_WORKERS ?= 3
test: system-deps venv seldon-venv polyaxon-venv mlserver-venv ## Lint and run every test (what CI runs)
	$(BIN)/ruff check cartpole tests benchmarks polyaxon
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15 --tf-ratio

test-fast: venv ## Lint and run the in-process tests only (a minute or two; no servers)
	$(BIN)/ruff check cartpole tests benchmarks polyaxon
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/pytest -m "not slow" --durations=15

lint: venv ## Lint only: ruff, and the layer rules between packages (lint-imports)
	$(BIN)/ruff check cartpole tests benchmarks polyaxon
	$(BIN)/lint-imports --no-cache --no-logo

train: venv ## Train CartPole-v1 with the defaults (stops once solved)
	$(BIN)/cartpole train --seed 0

train-dev: visdom ## Start a local Visdom server, then train with live curves in it
	@echo "Visdom: http://localhost:$(VISDOM_PORT)/env/cartpole_$(GROUP)"
	$(BIN)/cartpole --metrics-engine visdom --metrics-config '{"port": $(VISDOM_PORT)}' \
		train --seed 0 --group $(GROUP)
	@echo "Visdom: http://localhost:$(VISDOM_PORT)/env/cartpole_$(GROUP) (make visdom-stop stops it)"

visdom: venv ## Start a Visdom server in the background (a process, not a container)
	$(BIN)/python -m cartpole.metrics.visdom.server --detach --port $(VISDOM_PORT) \
		--env-path runs/visdom --pid-file runs/visdom/visdom.pid

visdom-stop: venv ## Stop the Visdom server that `make visdom` started
	$(BIN)/python -m cartpole.metrics.visdom.server --stop --pid-file runs/visdom/visdom.pid

# Both serve in the background and stop the server when the agent ends (or on Ctrl-C).
run-dev: visdom ## Serve MODEL locally, play EPISODES against it with RUNNERS; scores in Visdom
	@test -f $(MODEL) || $(MAKE) train
	@mkdir -p runs
	@echo "Visdom: http://localhost:$(VISDOM_PORT)/env/cartpole_$(RUN_ID)"
	@$(BIN)/cartpole serve $(MODEL) --port $(SERVE_PORT) > runs/serve.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/cartpole -e $(EPISODES) $(VISDOM_CONF) run --port $(SERVE_PORT) \
		--runners $(RUNNERS) --retries 5 --run-id $(RUN_ID)

run-dev-router-agent: visdom ## Router demo: 3 copies of MODEL behind ROUTER, reward PREFERRED_BRANCH
	@test -f $(MODEL) || $(MAKE) train
	@mkdir -p runs
	@echo "Visdom: http://localhost:$(VISDOM_PORT)/env/cartpole_$(RUN_ID)"
	@$(BIN)/cartpole serve $(MODEL) $(MODEL) $(MODEL) --router $(ROUTER) \
		--port $(SERVE_PORT) > runs/serve.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/cartpole $(VISDOM_CONF) router-demo --port $(SERVE_PORT) \
		--preferred-branch $(PREFERRED_BRANCH) --retries 5 --run-id $(RUN_ID)

report: venv ## HTML report of the latest group (runs/<group>/report.html) + runs/report.png
	$(BIN)/cartpole report --screenshot runs/report.png

# Benchmarks write benchmarks/results/<name>.json (raw results, machine, load, versions);
# bench-docs renders docs/benchmarks.md and the README's figures from those files only.
# --via records the make command that reproduces a results file.
SB3_SEEDS ?= 5
PPO_SEEDS ?= $(SEEDS)
STARTUP_REPEATS ?= 3
BENCH_SETUP = $(BIN)/python -m pip install --quiet -e '.[bench]'
.PHONY: bench-docs

bench: ## Run every benchmark one after the other (tens of minutes), then bench-docs
	$(MAKE) --no-print-directory bench-solve
	$(MAKE) --no-print-directory bench-startup
	$(MAKE) --no-print-directory bench-grid
	$(MAKE) --no-print-directory bench-search
	$(MAKE) --no-print-directory bench-metrics
	$(MAKE) --no-print-directory bench-serve-stacks
	$(MAKE) --no-print-directory bench-remote
	$(MAKE) --no-print-directory bench-docs

bench-docs: ## Render docs/benchmarks.md and the README's figures from benchmarks/results/*.json
	$(PYTHON) -m benchmarks.render

bench-solve: venv ## Time-to-solve against stable-baselines3 PPO and DQN: SEEDS, PPO_SEEDS, SB3_SEEDS seeds
	$(BENCH_SETUP)
	$(BIN)/python -m benchmarks.time_to_solve --seeds $(SEEDS) --sb3-seeds $(SB3_SEEDS) \
		--ppo-seeds $(PPO_SEEDS) \
		--via "make bench-solve SEEDS=$(SEEDS) SB3_SEEDS=$(SB3_SEEDS) PPO_SEEDS=$(PPO_SEEDS)"
	$(PYTHON) -m benchmarks.render

# torch (the bench extra) is one of the imports it times for reference.
bench-startup: venv ## Where one `cartpole train --seed 0` spends its time, STARTUP_REPEATS runs
	$(BENCH_SETUP)
	$(BIN)/python -m benchmarks.startup --repeats $(STARTUP_REPEATS) \
		--via "make bench-startup STARTUP_REPEATS=$(STARTUP_REPEATS)"
	$(PYTHON) -m benchmarks.render

bench-grid: venv ## The grid: 8 trials, 1 worker vs 2; start-up, wall vs training, memory per trial
	$(BIN)/python -m benchmarks.grid_parallel --via "make bench-grid"
	$(PYTHON) -m benchmarks.render

bench-search: venv ## Grid search, --prune asha vs none: 16 trials x 3 seeds; wall ratio, best model's score
	$(BIN)/python -m benchmarks.search --via "make bench-search"
	$(PYTHON) -m benchmarks.render

# seldon-core with TensorFlow 2.15 (the last line that fits its pins), for the
# original's Keras row of the serving benchmarks only (over a gigabyte).
$(VENV)-seldon-keras/.installed: seldon/requirements.txt
	$(PYTHON) -m venv --clear $(VENV)-seldon-keras
	$(VENV)-seldon-keras/bin/python -m pip install --quiet --upgrade pip
	$(VENV)-seldon-keras/bin/python -m pip install --quiet -r seldon/requirements.txt \
		'tensorflow-cpu==2.15.*'
	$(VENV)-seldon-keras/bin/python -m pip install --quiet --no-deps -e . 2>/dev/null
	touch $@

bench-serve-stacks: venv seldon-venv mlserver-venv $(VENV)-seldon-keras/.installed ## cartpole serve vs seldon-core and other stacks (needs wrk)
	@command -v wrk >/dev/null || (echo "needs wrk: apt-get install wrk" >&2; exit 1)
	$(BENCH_SETUP)
	test -f $(MODEL) || $(MAKE) train
	$(BIN)/python -m benchmarks.serve_stacks --model $(MODEL) \
		--seldon-venv $(SELDON_VENV) --mlserver-venv .venv-mlserver \
		--keras-venv $(VENV)-seldon-keras --via "make bench-serve-stacks MODEL=$(MODEL)"
	$(PYTHON) -m benchmarks.render

bench-remote: venv seldon-venv $(VENV)-seldon-keras/.installed ## Remote agent: `cartpole run` and the library vs seldon-core and the 2018 client
	$(BENCH_SETUP)
	test -f $(MODEL) || $(MAKE) train
	$(BIN)/python -m benchmarks.remote_agent --model $(MODEL) \
		--keras-venv $(VENV)-seldon-keras --via "make bench-remote MODEL=$(MODEL)"
	$(PYTHON) -m benchmarks.render

bench-metrics: venv ## Training time and whole-process time with and without metrics engines
	$(BIN)/python -m benchmarks.metrics_overhead --via "make bench-metrics"
	$(PYTHON) -m benchmarks.render

# --- Docker: the trainer image and the compose stacks (no Docker on the test machine) ---
DOCKER_ORG ?= cartpole
DOCKER_TAG ?= latest
TRAINER_IMAGE := $(DOCKER_ORG)/cartpole:$(DOCKER_TAG)
MLFLOW_IMAGE := $(DOCKER_ORG)/cartpole-mlflow:$(DOCKER_TAG)
TRAIN_ARGS ?= --seed 0
# Host ports of the stacks (VISDOM_PORT is above); Fluentd's 24224 is fixed. They listen
# on 127.0.0.1; BIND_ADDRESS=0.0.0.0 in .env publishes them (docs/security.md).
MLFLOW_PORT ?= 5000
KIBANA_PORT ?= 5601
ELASTICSEARCH_PORT ?= 9200
# `docker compose` (v2) when Docker has it, else docker-compose 1.29.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
# The trainers write runs/ and .models/ here as you, not as root.
COMPOSE_ENV = CARTPOLE_IMAGE=$(TRAINER_IMAGE) CARTPOLE_MLFLOW_IMAGE=$(MLFLOW_IMAGE) \
	CARTPOLE_UID=$$(id -u) CARTPOLE_GID=$$(id -g) VISDOM_PORT=$(VISDOM_PORT) \
	MLFLOW_PORT=$(MLFLOW_PORT) KIBANA_PORT=$(KIBANA_PORT) ELASTICSEARCH_PORT=$(ELASTICSEARCH_PORT)
DC = $(COMPOSE_ENV) $(COMPOSE)
SELF := $(abspath $(firstword $(MAKEFILE_LIST)))

docker-build: ## Build the trainer image TRAINER_IMAGE (DOCKER_ORG/cartpole:DOCKER_TAG)
	docker build -t $(TRAINER_IMAGE) .

docker-push: ## Push the trainer image
	docker push $(TRAINER_IMAGE)

# .env holds the stacks' generated passwords (mode 600, never committed). The script only
# adds keys that are missing, so it runs again whenever it is newer than .env.
ENV_SCRIPT := $(TOP_DIR)scaffold/env.py

env: ## Write .env: generated passwords for the stacks; adds missing keys, keeps yours
	$(PYTHON) $(ENV_SCRIPT) .env

.env: $(ENV_SCRIPT)
	$(PYTHON) $(ENV_SCRIPT) .env && touch $@

train-docker: .env ## Train in the trainer container (TRAIN_ARGS); runs/ and .models/ land here
	@mkdir -p runs .models
	$(DC) --profile train run --rm trainer train $(TRAIN_ARGS)

docker-visdom: .env ## Visdom on VISDOM_PORT: a container, or a local process when there is no Docker
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		$(DC) --profile visdom up -d visdom && \
		echo "Visdom: http://localhost:$(VISDOM_PORT) (log in: VISDOM_USERNAME/VISDOM_PASSWORD in .env; make docker-down stops it)"; \
	else \
		echo "no Docker engine: starting Visdom as a local process instead"; \
		$(MAKE) -f $(SELF) --no-print-directory visdom; \
	fi

train-docker-visdom: .env ## Stack visdom: Visdom container + a trainer logging to it
	@mkdir -p runs .models
	$(DC) --profile visdom up -d visdom
	@echo "Visdom: http://localhost:$(VISDOM_PORT) (log in: VISDOM_USERNAME/VISDOM_PASSWORD in .env)"
	$(DC) --profile visdom run --rm trainer-visdom train $(TRAIN_ARGS)
	@echo "Visdom: http://localhost:$(VISDOM_PORT) (make docker-down stops the stack)"

train-docker-efk: .env ## Stack efk: Elasticsearch, Kibana, Fluentd, dashboard; trainer logs via fluentd
	@mkdir -p runs .models
	$(DC) --profile efk up -d elasticsearch kibana fluentd
	$(DC) --profile efk run --rm efk-init
	$(DC) --profile efk run --rm trainer-efk train $(TRAIN_ARGS)
	@echo "Kibana: http://localhost:$(KIBANA_PORT)/app/dashboards (dashboard: cartpole training; log in as elastic, ELASTIC_PASSWORD in .env)"

train-docker-mlflow: .env ## Stack mlflow: MLflow server (SQLite + artifacts volume) + a trainer logging to it
	@mkdir -p runs .models
	$(DC) --profile mlflow up -d mlflow
	$(DC) --profile mlflow run --rm trainer-mlflow train $(TRAIN_ARGS)
	@echo "MLflow: http://localhost:$(MLFLOW_PORT) (experiment cartpole; log in: MLFLOW_TRACKING_USERNAME/PASSWORD in .env)"

train-docker-modeldb: .env ## ModelDB is replaced by MLflow: runs the mlflow stack
	@echo "ModelDB (the 2018 tracking store) is replaced by MLflow: running make train-docker-mlflow"
	@$(MAKE) -f $(SELF) --no-print-directory train-docker-mlflow

docker-down: .env ## Stop every compose stack (volumes are kept; add -v by hand to drop them)
	$(DC) --profile train --profile visdom --profile efk --profile mlflow down

# --- by subject: the Seldon image and Kubernetes (seldon/), the grid on KubeRay (kuberay/).
# Included, so every target and variable works from here as from `make -C seldon` and
# `make -C kuberay`, and `make help` lists their targets too.
include $(TOP_DIR)seldon/Makefile $(TOP_DIR)kuberay/Makefile

clean: ## Remove the venv, caches, runs and models
	rm -rf $(VENV) $(SELDON_VENV) $(VENV)-seldon-keras .venv-polyaxon .venv-mlserver .pytest_cache .ruff_cache runs .models *.egg-info
