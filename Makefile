# The two commands the README promises work on a fresh machine: `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen

.PHONY: help install up chat demo bench-purchase bench-lifecycle bench-reconcile test lint typecheck imports unit integration e2e contracts bench-outbox clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

install: ## install uv (from PyPI) and the workspace into .venv
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet

up: install ## run the whole platform locally on embedded PostgreSQL and Kafka
	@$(RUN) python -m devstack.up

demo: install ## one simulated customer buys a subscription; prints the chat, the events and the trace
	@$(RUN) python -m devstack.demo

chat: install ## talk to the sandbox bot of a running `make up` from the terminal
	@$(RUN) python -m devstack.chat

test: install lint typecheck imports ## everything CI runs: linters, types, import rules, all tests
	@$(RUN) pytest

lint: install ## ruff lint and format check
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

typecheck: install ## mypy, strict
	@$(RUN) mypy libs/*/src services/*/src

imports: install ## import-linter: services depend only on libs
	@$(RUN) lint-imports

unit: install ## fast tests without infrastructure
	@$(RUN) pytest -m "not integration and not e2e"

integration: install ## tests against real PostgreSQL and Kafka
	@$(RUN) pytest -m integration

e2e: install ## every service as its own process
	@$(RUN) pytest -m e2e

contracts: install ## regenerate JSON Schemas and the AsyncAPI document from the contracts
	@$(RUN) python -m contracts.export

bench-purchase: install ## simulated customers buying through all five services (PROVIDER=yookassa|wata|stars|cryptopay|wallet); bench/results/
	@$(RUN) python bench/purchase.py --provider $(or $(PROVIDER),yookassa)

bench-outbox: install ## outbox -> Kafka -> inbox throughput and latency
	@$(RUN) python bench/outbox.py

bench-lifecycle: install ## a day's share of due times on 1,000,000 subscriptions, end to end; bench/results/
	@$(RUN) python bench/lifecycle.py

bench-reconcile: install ## one reconciliation cycle over a panel of 100,000 users, 1 % drifted, repairs applied; bench/results/
	@$(RUN) python bench/reconcile.py

clean: ## remove local runtime data and caches (keeps the Kafka download)
	rm -rf .data .mypy_cache .ruff_cache
