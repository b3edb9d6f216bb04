# Astrocoffee: every target creates .venv (pinned by constraints.txt) when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Locust and websocket-client, for `make loadtest` only (never `make install` or `make test`).
LOAD_STAMP := $(VENV)/.installed-load
# Development conveniences for `make run` only; production refuses both (see README).
RUN_ENV ?= ASTROCOFFEE_DEV_OTP_CODE=000000

.DEFAULT_GOAL := help
.PHONY: help install system-packages run test lint format typecheck check bench loadtest loadtest-distributed soak deploy-check fuzz faults clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,embedded]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the pinned dependencies

# Debian's chromium, nginx, pgbouncer and redis-server for the tests: apt-get installs what is
# missing when it can, else this stops with the command to run (nothing to do, at no cost,
# once installed).
system-packages: ## install Debian's chromium, nginx, pgbouncer and redis-server for the tests if missing (apt-get)
	@bash deploy/dev/provision.sh

run: $(STAMP) ## serve on 127.0.0.1:8000 with the outbox and push workers and fake accounting/payment/FCM/APNs systems (devkit/fakes)
	$(RUN_ENV) BIN=$(BIN) bash deploy/dev/run.sh

test: system-packages $(STAMP) ## run the test suite on real PostgreSQL and Redis (embedded unless URLs are set)
	$(BIN)/pytest

lint: $(STAMP) ## ruff lint and format check, hadolint on the Dockerfiles (app, deploy/pgbouncer)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile deploy/pgbouncer/Dockerfile

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP) ## mypy, strict on backend, realtime, db and devkit
	$(BIN)/mypy

fuzz: $(STAMP) ## fuzz the API from its OpenAPI document as every caller kind, 200 examples per operation
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(BIN)/pytest tests/reliability/test_fuzz.py

faults: $(STAMP) ## restart PostgreSQL, SIGKILL serve, stop Redis, accounting and provider under load; FAULT_PURCHASES=600 per scenario
	FAULT_PURCHASES=$${FAULT_PURCHASES:-600} $(BIN)/pytest -s tests/reliability/test_faults.py

# Only nginx of the system packages (for nginx -t); --confcutdir: tests/conftest.py (embedded
# PostgreSQL and Redis, migrations) is not loaded, as these tests touch neither.
deploy-check: $(STAMP) ## the deployment rules (tests/deploy, also part of make test): overlays, compose, alerts, dashboard, nginx -t
	@bash deploy/dev/provision.sh nginx
	$(BIN)/pytest --confcutdir=tests/deploy tests/deploy

check: lint typecheck test ## everything CI runs (make test includes deploy-check's tests/deploy)

# make bench's Node.js socket peer: ws and redis pinned in its package.json, from npm's registry;
# no lock file is written (--no-package-lock).
NODE_PEER := loadtests/peers/node
$(NODE_PEER)/node_modules/.installed: $(NODE_PEER)/package.json
	cd $(NODE_PEER) && npm install --no-package-lock --no-audit --no-fund --silent
	touch $@

bench: $(STAMP) $(NODE_PEER)/node_modules/.installed ## one table: socket, campaign, purchase and push figures vs same-run baselines (pgbench, bare Litestar, Node.js peer, Redis, sale-to-WebSocket); exit 1 on a missed target -> loadtests/reports/
	$(BIN)/python -m loadtests.bench

$(LOAD_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[load]'
	touch $(LOAD_STAMP)

loadtest: $(LOAD_STAMP) ## Locust vs loadtests/targets.toml (fresh DB, seed, serve) -> loadtests/reports/; LOADTEST_ARGS=...
	$(BIN)/python -m loadtests.run $(LOADTEST_ARGS)

loadtest-distributed: ## print how to run Locust distributed: one master + N workers, one command each
	@$(PYTHON) -m loadtests.run --distributed-help

soak: $(LOAD_STAMP) ## Locust mix with connection churn for SOAK_DURATION (10m), server RSS/fds/tasks/pools sampled each minute; exit 1 unless flat -> loadtests/reports/
	$(BIN)/python -m loadtests.soak $(SOAK_ARGS)

clean: ## remove .venv and caches (keeps the .data folder)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
