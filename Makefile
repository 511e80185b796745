# The verbs people type. `make up` and `make test` work on a fresh machine: they install what is missing.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PY := .venv/bin/python
CTL := $(PY) -m archivectl
SAMPLES ?= 30
BENCH_CASES ?= 2000
CHAOS_CASES ?= 2000

.PHONY: help up down test browser operator-key test-unit test-integration test-e2e test-chaos bench chaos lint format python stack-up stack-down \
        stack-status services-start services-stop services-status topics migrate feed summary snapshots

help:
	@echo "make up        install + start the stack and the five services, feed $(SAMPLES) sample cases, print the outcome"
	@echo "make down      stop the services and the stack"
	@echo "make test      install what is missing, start the stack if needed, run lint + unit + integration + e2e tests"
	@echo "make bench     end-to-end throughput and latency against the bare-infrastructure floor, CPU per process, 1-3 validation workers"
	@echo "make chaos     fault-injection run on a stack of its own (ports +200, .stack-chaos/): $(CHAOS_CASES) cases, kills and network faults"
	@echo "make stack-up | stack-down | stack-status    the local Kafka, MinIO, PostgreSQL, ClamAV"

python:
	@deploy/local/python-env.sh

stack-up:
	@deploy/local/stack.sh up

stack-down:
	@deploy/local/stack.sh down

stack-status:
	@deploy/local/stack.sh status

topics: python
	@$(CTL) topics

migrate: python
	@$(CTL) migrate

services-start: python
	@echo "services: starting capture, validation, classification, storage, query"
	@$(CTL) services start

services-stop: python
	@$(CTL) services stop

services-status: python
	@$(CTL) services status

feed: python
	@$(CTL) feed --count $(SAMPLES)

operator-key: python
	@$(CTL) key local

summary: python
	@$(CTL) summary

up: python stack-up topics migrate services-start feed summary operator-key

down:
	@if [ -x $(PY) ]; then $(CTL) services stop; fi
	@deploy/local/stack.sh down

browser:
	@deploy/local/browser.sh

lint: python
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy .

format: python
	@$(PY) -m ruff format . && $(PY) -m ruff check --fix .

snapshots: python
	@$(PY) -m contracts.snapshots

test: python stack-up browser lint
	@$(PY) -m pytest -m "unit or integration or e2e or chaos" -ra

test-unit: python
	@$(PY) -m pytest -m unit -ra

test-integration: python stack-up
	@$(PY) -m pytest -m integration -ra

test-e2e: python stack-up browser
	@$(PY) -m pytest -m e2e -ra

# The CI-sized fault-injection run alone (it starts and removes a stack of its own; not the shared one).
test-chaos: python
	@$(PY) -m pytest -m chaos -ra

# A stack of its own on the shared ports + 200 (never stops or kills the shared stack); CHAOS_ARGS e.g. --seed 42.
chaos: python
	@$(PY) -m bench.chaos --cases $(CHAOS_CASES) $(CHAOS_ARGS)

bench: python stack-up topics
	@$(PY) -m bench.pipeline --cases $(BENCH_CASES)
