# Developer entry points. `make check` is the test command CI runs.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup lint unit image check run
# The pinned guest userspace `make check` boots (vm-images/): built once into the
# cache, a re-run with nothing changed takes a second or two.
IMAGE ?= $(or $(HARNESS_CACHE),$(HOME)/.cache/xdp-harness)/rootfs-bookworm
setup:
	ci/setup-host.sh

lint:
	$(BIN)/ruff check harness tests selftests
	$(BIN)/ruff format --check harness tests selftests
	$(BIN)/mypy

unit:
	$(BIN)/python -m pytest tests

image:
	vm-images/build-rootfs.sh $(IMAGE)

# Unit tests, then every series stacked: one kernel build, one boot, every suite,
# in the pinned guest image.
check: lint unit image
	$(BIN)/harness run --all --image $(IMAGE)

run:
	$(BIN)/harness run --series baseline
