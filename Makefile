# Runyard: `make dev` starts everything on one machine; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: dev test lint typecheck bench clean venv s3-venv services bench-tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## The benchmark's extras (procrastinate, Celery, redis) on top of the dev install.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $(BENCH_STAMP)

## wrk and Redis for the benchmark; PostgreSQL as for the tests.
bench-tools:
	scripts/ensure-postgres.sh
	scripts/ensure-bench-tools.sh

## Start the server, SQLite, the embedded store and a local agent (data in ./runyard-data).
## `make dev PORT=8001` for another port.
PORT ?= 8000
dev: $(STAMP)
	$(BIN)/runyard dev --data-dir runyard-data --port $(PORT)

## The S3 test server lives in its own virtualenv (it pins its own botocore).
s3-venv:
	test -x .venv-s3/bin/python || $(PYTHON) -m venv .venv-s3
	.venv-s3/bin/python -c "import ministack" 2>/dev/null || \
	  .venv-s3/bin/pip install --quiet --disable-pip-version-check "ministack==1.5.33"

## PostgreSQL must answer on 127.0.0.1:5432 (started, or installed and started, if not);
## curl must be there for the seed's curl example.
services:
	scripts/ensure-postgres.sh
	scripts/ensure-tools.sh

## Every test: unit, integration on SQLite and PostgreSQL, storage on both backends,
## end-to-end legs with real processes, then the fault suite alone (tests/faults, ~5 min).
## Prints the legs that ran.
test: $(STAMP) s3-venv services
	scripts/run-tests.sh

lint:
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck:
	$(BIN)/mypy

## One table, every figure measured in this run (docs/performance.md; sizes: bench/__main__.py).
bench: $(BENCH_STAMP) bench-tools
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-s3 .pytest_cache .mypy_cache runyard-data
