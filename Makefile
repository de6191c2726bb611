# Developer entry points. `make check` is the test command CI runs.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup lint unit check run
setup:
	ci/setup-host.sh

lint:
	$(BIN)/ruff check harness tests selftests
	$(BIN)/ruff format --check harness tests selftests
	$(BIN)/mypy

unit:
	$(BIN)/python -m pytest tests

# Unit tests, then every series stacked: one kernel build, one boot, every suite.
check: lint unit
	$(BIN)/harness run --all

run:
	$(BIN)/harness run --series baseline
