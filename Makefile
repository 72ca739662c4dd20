# Entry points; the work is done by scripts/*.sh (see DEVELOPERS.md). Every target is idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help run run-distributed test setup db-start db-stop db-url psql lint bench audit soak screenshots clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 17

run: ## set up, start PostgreSQL (+ the simulator in demo mode) and dagster dev on :3000
	@bash scripts/run.sh

run-distributed: ## as run, but code server (:4266), webserver (:3000) and daemon as separate processes
	@bash scripts/run-distributed.sh

test: ## set up, start PostgreSQL, run the whole test suite
	@bash scripts/setup.sh test-tools
	@bash scripts/with-db.sh .venv/bin/pytest $(PYTEST_ARGS)

setup: ## create .venv and install PostgreSQL + TimescaleDB (each step skipped when done)
	@bash scripts/setup.sh all

db-start: ## start the project's PostgreSQL cluster (.local/pg)
	@bash scripts/db.sh start

db-stop: ## stop it
	@bash scripts/db.sh stop

db-url: ## print the data database URL
	@bash scripts/db.sh url

psql: ## psql on the data database; make psql SQL='select 1' runs one statement
	@bash scripts/db.sh psql $(if $(SQL),-c "$(SQL)")

lint: ## ruff check, ruff format --check, mypy
	@bash scripts/setup.sh venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: ## run benchmarks/*.py (with the bench extra and PostgreSQL started)
	@ENTSOE_PIP_EXTRAS=dev,bench bash scripts/with-db.sh bash scripts/bench.sh

audit: ## re-fetch a sample of stored windows and compare them with the store (AUDIT_ARGS='--sample 10')
	@bash scripts/audit.sh $(AUDIT_ARGS)

soak: ## faults at random while the pipeline runs, then count rows lost (SOAK_MINUTES=8, SOAK_SEED)
	@bash scripts/soak.sh

screenshots: ## README's pictures (docs/images) from a private make run in demo mode, in chromium
	@bash scripts/setup.sh venv
	@bash scripts/setup.sh test-tools
	PYTHONPATH=. .venv/bin/python docs/screenshots.py

clean: ## stop the cluster and remove .local (database, Dagster home, build files)
	@if [ -d .local ]; then bash scripts/db.sh stop; fi
	rm -rf .local
