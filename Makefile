# Developer entry points. `make check` is the test command CI runs.
VENV ?= .venv
BIN := $(VENV)/bin
# The harness as make check runs it: its kernel build gets its own -j, not this
# make's jobserver.
HARNESS := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(BIN)/harness

.PHONY: setup lint unit image kernel check run
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

# Every series stacked: the base imported, the series applied, one kernel built (its
# results, build.log included, in their own results/<run-id>/). make check runs it
# beside lint, the unit tests and the image build, which use the core the import and
# apply (one process each, mostly) leave idle, and then compete with the compile. A lint
# or unit-test failure ends make check only once this build has finished.
kernel:
	$(HARNESS) build --all

# Lint, unit tests, the image and the kernel, then every series in one boot of the
# pinned guest image, every suite: `harness test` boots the kernel built above (and
# refuses when there is none, instead of building one).
check: lint unit image kernel
	$(HARNESS) test --all --image $(IMAGE)

run:
	$(BIN)/harness run --series baseline
