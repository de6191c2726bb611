# Developer entry points. `make check` is the test command CI runs.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup lint unit image check run
# The pinned guest userspace `make check` boots (vm-images/): built once into the
# cache (as harness.paths.default_cache finds it), a re-run with nothing changed
# takes a second or two; debootstrap needs root (sudo when not root, as
# ci/setup-host.sh); `make image FORCE=1` rebuilds it from scratch.
IMAGE ?= $(or $(HARNESS_CACHE),$(XDG_CACHE_HOME),$(HOME)/.cache)/$(if $(HARNESS_CACHE),,xdp-harness/)rootfs-bookworm
SUDO := $(if $(filter 0,$(shell id -u)),,sudo --preserve-env=FORCE,MIRROR,PIP_CERT,REQUESTS_CA_BUNDLE,SSL_CERT_FILE)
setup:
	ci/setup-host.sh

lint:
	$(BIN)/ruff check harness tests selftests
	$(BIN)/ruff format --check harness tests selftests
	$(BIN)/mypy

unit:
	$(BIN)/python -m pytest tests

# its log beside it, its last lines shown when it fails (make check runs it beside lint
# and the unit tests)
image:
	@mkdir -p $(dir $(IMAGE))
	@echo "image: vm-images/build-rootfs.sh $(IMAGE) (log: $(IMAGE).log)"
	@$(SUDO) vm-images/build-rootfs.sh $(IMAGE) > $(IMAGE).log 2>&1 \
	  || { tail -n 30 $(IMAGE).log; echo "image: build-rootfs.sh failed, log: $(IMAGE).log"; exit 1; }
	@tail -n 1 $(IMAGE).log

# Unit tests, then every series stacked: one kernel build, one boot, every suite,
# in the pinned guest image.
check: lint unit image
	$(BIN)/harness run --all --image $(IMAGE)

run:
	$(BIN)/harness run --series baseline
