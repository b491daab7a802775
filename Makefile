# R4C — the two commands: `make up` (the whole platform in Docker) and `make test`.
# Everything else a fresh machine needs (virtualenv, locked packages, apt packages for the
# end-to-end tests) is installed by these targets.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PYTHON ?= python3
BIN := $(VENV)/bin
REQUIREMENTS := backend/requirements/base.txt backend/requirements/dev.txt
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# manage.py reads the environment only: .env (if any) fills in what the environment leaves unset.
MANAGE := . backend/bin/load-env && load_env_file .env && cd backend && $(BIN)/python manage.py
export PATH := $(BIN):$(PATH)

.PHONY: help up down logs dev test bench fuzz lint format migrate superuser manage lock venv system-deps env-file

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# --- the platform ----------------------------------------------------------------------
up: env-file ## run the whole stack in Docker: http://localhost:8080 (Swagger at /docs/)
	docker compose up -d --build --wait
	@echo "R4C: http://localhost:8080/docs/  ·  e-mails: http://localhost:8025"

down: ## stop the Docker stack (data volumes are kept)
	docker compose down

logs: ## follow the Docker stack's logs
	docker compose logs -f --tail=100

dev: venv system-deps env-file ## run the same processes natively, against DATABASE_URL / CELERY_BROKER_URL
	backend/bin/with-services backend/bin/dev

migrate: venv env-file ## apply database migrations
	$(MANAGE) migrate

superuser: venv env-file ## create an admin account
	$(MANAGE) createsuperuser

manage: venv env-file ## any manage.py command, with .env's settings: make manage ARGS="create_api_token line-1 --role production_line"
	$(MANAGE) $(ARGS)

# --- quality ---------------------------------------------------------------------------
test: venv system-deps ## run every test (unit, API, end to end) on the real PostgreSQL and Redis
	cd backend && ../backend/bin/with-services $(BIN)/pytest $(PYTEST_ARGS)

bench: venv system-deps bench-deps ## the benchmarks (bench/README.md); BENCH="name ..." picks some, BENCH_SCALE=small a quick run
	backend/bin/with-services $(BIN)/python bench/run.py $(BENCH)

# wrk drives the HTTP load, psql \copy is the batch baseline, matplotlib draws the figures.
.PHONY: bench-deps
bench-deps: venv
	@if ! command -v wrk >/dev/null || ! command -v psql >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			wrk postgresql-client >/dev/null; \
	fi
	$(BIN)/uv pip install -q --python $(BIN)/python --require-hashes -r bench/requirements.txt

fuzz: venv system-deps ## the schema fuzzing of `make test`, longer (FUZZ_EXAMPLES per operation, default 200)
	cd backend && FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} LEGACY_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} ../backend/bin/with-services $(BIN)/pytest tests/e2e/test_schema_fuzz.py $(PYTEST_ARGS)

lint: venv ## ruff (lint and format), missing migrations, known vulnerabilities in the locked packages
	$(BIN)/ruff check backend bench
	$(BIN)/ruff format --check backend bench
	cd backend && ENVIRONMENT=development $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pip-audit --no-deps --disable-pip --progress-spinner off \
		-r backend/requirements/base.txt -r backend/requirements/dev.txt

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix backend bench
	$(BIN)/ruff format backend bench

lock: venv ## re-resolve the pinned dependencies from backend/requirements/*.in
	cd backend/requirements && $(BIN)/uv pip compile -q --python-version 3.11 --generate-hashes base.in -o base.txt
	cd backend/requirements && $(BIN)/uv pip compile -q --python-version 3.11 --generate-hashes dev.in -o dev.txt

# --- set-up ----------------------------------------------------------------------------
venv: $(VENV)/.installed

$(VENV)/.installed: $(REQUIREMENTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "uv==0.13.9"
	$(BIN)/uv pip sync -q --python $(BIN)/python --require-hashes $(REQUIREMENTS)
	touch $@

# nginx and chromium run in the end-to-end tests; envsubst renders the nginx template.
system-deps:
	@if ! command -v nginx >/dev/null || ! test -x /usr/bin/chromium || ! command -v envsubst >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			nginx-light chromium gettext-base fonts-liberation >/dev/null; \
	fi

env-file:
	@test -f .env || { cp .env.example .env && echo "created .env from .env.example"; }
