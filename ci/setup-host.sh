#!/usr/bin/env bash
# Set up a Debian 12 host for the harness: the Debian packages it needs (with
# sudo when not root), then a virtualenv in .venv with the harness installed
# from pyproject.toml at the versions in ci/constraints.txt.
# Safe to re-run; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # source
  git tar xz-utils linux-source-6.12
  # build
  make gcc flex bison bc dwarves ccache libelf-dev libssl-dev cpio
  # boot: virtme-ng needs udev on the host to find its virtio-serial ports
  qemu-system-x86 udev
  # test: BPF programs and tools
  clang-19 llvm-19 libbpf-dev bpftool iproute2 ethtool
  # upstream prog_tests run in the guest: test_xdp_veth pings, xdp_do_redirect runs sysctl
  iputils-ping procps
  # make check's guest image (vm-images/build-rootfs.sh)
  debootstrap debian-archive-keyring
  # check-patches: checkpatch.pl runs scripts/spdxcheck.py
  python3-ply python3-git
  # python
  python3 python3-venv python3-pip
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: not root and no sudo: install ${APT_PACKAGES[*]}" >&2; exit 3; }
  sudo_cmd=(sudo)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || {
      echo "error: apt-get could not install: ${missing[*]}" >&2; exit 3; }
fi

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c ci/constraints.txt -e '.[dev]'
echo "setup: done. Use $VENV/bin/harness, or: . $VENV/bin/activate"
