#!/usr/bin/env bash
# Build a pinned Debian 12 (bookworm) guest root filesystem for the harness:
# the userspace the in-guest tests need, booted with `vng --root DIR`.
#
#   vm-images/build-rootfs.sh DIR
#
# Environment:
#   MIRROR       Debian mirror (default: http://deb.debian.org/debian)
#   SNAPSHOT     a snapshot timestamp such as 20250520T000000Z; when set the
#                packages come from http://snapshot.debian.org/archive/debian/$SNAPSHOT
#                instead of MIRROR, which pins every .deb bit for bit
#   CONSTRAINTS  pip constraints (default: ci/constraints.txt of this checkout)
#   GUEST_LOCK   extra pip constraints pinning the transitive dependencies
#                (default: vm-images/guest-constraints.txt; set it empty to skip)
#   PIP_CA_BUNDLE  CA bundle for pip inside the chroot (default: the host's
#                PIP_CERT, REQUESTS_CA_BUNDLE or SSL_CERT_FILE, when set); needed
#                behind a TLS-intercepting proxy, since the guest has no CA store
#   KEYRING      Debian archive keyring (default: /usr/share/keyrings/debian-archive-keyring.gpg)
#   FORCE=1      delete DIR and start over
#
# Re-running on a finished DIR keeps the Debian part and only rebuilds the venv
# when the pip inputs changed; the manifest DIR/etc/xdp-harness-image.json is
# rewritten every time.
set -euo pipefail

SUITE=bookworm
VARIANT=minbase
# What the guest needs:
#  - tests: python3 (+venv), iproute2 (ip, tc), bpftool, libbpf1 (loaded by
#    selftests/xdplib/bpfobj.py through ctypes), ethtool, kmod. libbpf1 brings
#    libelf1 and zlib1g: with libc, all that the bpftool and test_progs the
#    harness builds from the tree need (it builds bpftool without a JIT
#    disassembler, and checks each built tool's libraries against the image
#    before a boot); procps (sysctl) and iputils-ping: upstream's XDP
#    prog_tests run both (xdp_do_redirect, xdp_veth_redirect)
#  - virtme-ng with --root: /bin/sh, mount, mkdir (the init= one-liner that
#    mounts /run, /dev and the guest tools), bash (virtme-ng-init runs the
#    --exec script with it), an existing /etc/fstab (a bind-mount target),
#    udev (systemd-udevd, started by virtme-ng-init to populate /dev),
#    systemd-standalone-tmpfiles (virtme-ng-init runs systemd-tmpfiles at
#    boot, as on a systemd host; without it the console has a WARNING line).
#    virtme-ng-init itself comes from the host's virtme-ng, over 9p; it is
#    not installed in the image. minbase already has bash, coreutils, mount,
#    util-linux.
PACKAGES=(python3 python3-venv iproute2 bpftool libbpf1 ethtool kmod udev systemd-standalone-tmpfiles
          procps iputils-ping)
# PyYAML: the kernel's ynl (tools/net/ynl), which the in-tree Python kselftests use
PIP_PACKAGES=(pytest scapy pyroute2 PyYAML)
VENV=/opt/xdp-harness/venv
# Empty directories the harness mounts the checkout, a guest's results and the
# stack's cache directory (kernel tree, build, tools, BPF objects) on (`--rodir /opt/xdp-harness/repo=HOSTPATH`): the guest root is
# read-only, so a mount point has to exist in it beforehand.
MOUNTPOINTS=(/opt/xdp-harness/repo /opt/xdp-harness/results /opt/xdp-harness/stack)
MANIFEST=/etc/xdp-harness-image.json
STATE=/var/lib/xdp-harness

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

die() { echo "build-rootfs: error: $*" >&2; exit 1; }
log() { echo "build-rootfs: $*"; }

[ $# -eq 1 ] || die "usage: $0 DIR"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported (got $(uname -m))"

MIRROR=${MIRROR:-http://deb.debian.org/debian}
SNAPSHOT=${SNAPSHOT:-}
CONSTRAINTS=${CONSTRAINTS:-$repo/ci/constraints.txt}
GUEST_LOCK=${GUEST_LOCK-$here/guest-constraints.txt}
PIP_CA_BUNDLE=${PIP_CA_BUNDLE:-${PIP_CERT:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-}}}}
FORCE=${FORCE:-0}

if [ -n "$SNAPSHOT" ]; then
  [[ $SNAPSHOT =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || die "SNAPSHOT must look like 20250520T000000Z, got '$SNAPSHOT'"
  archive="http://snapshot.debian.org/archive/debian/$SNAPSHOT"
else
  archive=$MIRROR
fi
[ -f "$CONSTRAINTS" ] || die "constraints file not found: $CONSTRAINTS"
[ -z "$GUEST_LOCK" ] || [ -f "$GUEST_LOCK" ] || die "GUEST_LOCK file not found: $GUEST_LOCK"
[ -z "$PIP_CA_BUNDLE" ] || [ -f "$PIP_CA_BUNDLE" ] || die "PIP_CA_BUNDLE not found: $PIP_CA_BUNDLE"

mkdir -p "$1"
DIR=$(cd "$1" && pwd)
case "$DIR" in
  / | /bin | /boot | /dev | /etc | /home | /lib | /opt | /proc | /root | /run | /sbin | /sys | /tmp | /usr | /var)
    die "refusing to use $DIR as the rootfs directory" ;;
esac

# ---------------------------------------------------------------- host tools
apt_install() {
  command -v apt-get >/dev/null \
    || die "$1 is missing and this host has no apt-get: install $2 with the host's package manager"
  log "installing $2"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null \
    || die "apt-get could not install $2"
}
command -v debootstrap >/dev/null || apt_install debootstrap debootstrap
keyring=${KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
[ -f "$keyring" ] || apt_install "$keyring" debian-archive-keyring
[ -f "$keyring" ] || die "no Debian archive keyring at $keyring (set KEYRING=PATH)"

# --------------------------------------------------------- chroot plumbing
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -l "${mounted[i]}" 2>/dev/null || true
  done
  rm -f "$DIR/run/xdp-harness-ca.pem"
  if [ -f "$DIR/etc/resolv.conf.xdp-harness-orig" ]; then
    mv -f "$DIR/etc/resolv.conf.xdp-harness-orig" "$DIR/etc/resolv.conf"
  fi
}
trap cleanup EXIT
bind_chroot() {
  local d
  for d in proc sys dev; do
    mountpoint -q "$DIR/$d" && continue
    case $d in
      proc) mount -t proc proc "$DIR/proc" ;;
      sys) mount -t sysfs sys "$DIR/sys" ;;
      dev) mount --bind /dev "$DIR/dev" ;;
    esac
    mounted+=("$DIR/$d")
  done
  # name resolution for pip, restored on exit
  if [ -e "$DIR/etc/resolv.conf" ] || [ -L "$DIR/etc/resolv.conf" ]; then
    mv -f "$DIR/etc/resolv.conf" "$DIR/etc/resolv.conf.xdp-harness-orig"
  fi
  cp -L /etc/resolv.conf "$DIR/etc/resolv.conf"
}
in_chroot() { chroot "$DIR" /usr/bin/env -i HOME=/root LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# ------------------------------------------------------------- debootstrap
if [ "$FORCE" = 1 ] && [ -n "$(ls -A "$DIR")" ]; then
  log "FORCE=1: removing $DIR"
  for d in proc sys dev; do mountpoint -q "$DIR/$d" && umount -l "$DIR/$d"; done
  rm -rf --one-file-system "${DIR:?}"/* "${DIR:?}"/.[!.]* 2>/dev/null || true
fi

want_debs="$SUITE $VARIANT $archive ${PACKAGES[*]}"
if [ -f "$DIR$STATE/debootstrap.done" ]; then
  have_debs=$(cat "$DIR$STATE/debootstrap.done")
  [ "$have_debs" = "$want_debs" ] \
    || die "$DIR was bootstrapped with different inputs ($have_debs); rerun with FORCE=1"
  log "Debian part already there ($SUITE from $archive), keeping it"
else
  [ -z "$(ls -A "$DIR")" ] \
    || die "$DIR is not empty and has no finished bootstrap; remove it or rerun with FORCE=1"
  log "debootstrap $SUITE --variant=$VARIANT from $archive"
  include=$(IFS=,; echo "${PACKAGES[*]}")
  debootstrap --variant="$VARIANT" --arch=amd64 --keyring="$keyring" \
    --include="$include" "$SUITE" "$DIR" "$archive" \
    || die "debootstrap from $archive failed (see $DIR/debootstrap/debootstrap.log if present)$([ -z "$SNAPSHOT" ] || echo "; is the snapshot archive reachable from here?"); fix the cause and rerun with FORCE=1"

  # apt inside the image points at the same archive (no security suite: the
  # image is the point release, as pinned as the archive it came from)
  echo "deb $archive $SUITE main" >"$DIR/etc/apt/sources.list"
  if [ -n "$SNAPSHOT" ]; then
    echo 'Acquire::Check-Valid-Until "false";' >"$DIR/etc/apt/apt.conf.d/10snapshot"
  fi
  # virtme-ng bind-mounts over /etc/fstab, so it has to exist
  [ -e "$DIR/etc/fstab" ] || : >"$DIR/etc/fstab"
  echo xdp-guest >"$DIR/etc/hostname"
  # the guest does not resolve names; do not ship the build host's resolver
  rm -f "$DIR/etc/resolv.conf" && : >"$DIR/etc/resolv.conf"
  # the downloaded .debs and the package index (~50 MB) are not needed in the
  # guest; the signed Release files stay as a record of the archive state
  rm -f "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/cache/apt/*.bin \
    "$DIR"/var/lib/apt/lists/*_Packages "$DIR"/var/lib/apt/lists/*_Packages.*
  mkdir -p "$DIR$STATE"
  echo "$want_debs" >"$DIR$STATE/debootstrap.done"
fi

for m in "${MOUNTPOINTS[@]}"; do mkdir -p "$DIR$m"; done

# -------------------------------------------------------------------- venv
pip_inputs=$(
  {
    echo "${PIP_PACKAGES[*]}"
    cat "$CONSTRAINTS"
    [ -z "$GUEST_LOCK" ] || cat "$GUEST_LOCK"
  } | sha256sum | cut -d' ' -f1
)
if [ -x "$DIR$VENV/bin/python" ] && [ "$(cat "$DIR$STATE/venv.done" 2>/dev/null)" = "$pip_inputs" ]; then
  log "venv $VENV already matches the constraints, keeping it"
else
  log "creating $VENV with the guest's python3 and installing ${PIP_PACKAGES[*]}"
  rm -rf "$DIR$VENV" "$DIR$STATE/venv.done"
  bind_chroot
  mkdir -p "$DIR/run/xdp-harness-pip"
  cp "$CONSTRAINTS" "$DIR/run/xdp-harness-pip/constraints.txt"
  pip_args=(install --no-cache-dir --no-input --isolated
            --only-binary=:all: -c /run/xdp-harness-pip/constraints.txt)
  if [ -n "$GUEST_LOCK" ]; then
    cp "$GUEST_LOCK" "$DIR/run/xdp-harness-pip/guest-constraints.txt"
    pip_args+=(-c /run/xdp-harness-pip/guest-constraints.txt)
  fi
  if [ -n "$PIP_CA_BUNDLE" ]; then
    cp "$PIP_CA_BUNDLE" "$DIR/run/xdp-harness-ca.pem"
    pip_args+=(--cert /run/xdp-harness-ca.pem)
  fi
  in_chroot /usr/bin/python3 -m venv "$VENV" || die "python3 -m venv failed in the chroot"
  in_chroot "$VENV/bin/python" -m pip "${pip_args[@]}" "${PIP_PACKAGES[@]}" \
    || die "pip install in the chroot failed (network, CA bundle or a version conflict between $CONSTRAINTS and ${GUEST_LOCK:-no lock})"
  rm -rf "$DIR/run/xdp-harness-pip"
  # bytecode is written now, as the guest root is read-only at run time
  in_chroot "$VENV/bin/python" -m compileall -q "$VENV/lib" >/dev/null || true
  in_chroot "$VENV/bin/python" -c "import pytest, scapy.layers.inet, pyroute2, yaml" \
    || die "the venv does not import ${PIP_PACKAGES[*]}"
  echo "$pip_inputs" >"$DIR$STATE/venv.done"
fi

# ---------------------------------------------------------------- manifest
log "writing $MANIFEST"
# shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
debs=$(in_chroot dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n' | LC_ALL=C sort)
freeze=$(in_chroot "$VENV/bin/python" -m pip freeze --all --disable-pip-version-check | LC_ALL=C sort)
py_version=$(in_chroot "$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')
release_file=$(find "$DIR/var/lib/apt/lists" -maxdepth 1 -name "*_dists_${SUITE}_Release" | head -n1)
release_date=$([ -z "$release_file" ] || sed -n 's/^Date: //p' "$release_file")
release_version=$([ -z "$release_file" ] || sed -n 's/^Version: //p' "$release_file")
DEBS=$debs FREEZE=$freeze PY_VERSION=$py_version SUITE=$SUITE VARIANT=$VARIANT \
  RELEASE_DATE=$release_date RELEASE_VERSION=$release_version \
  ARCHIVE=$archive SNAPSHOT=$SNAPSHOT VENV=$VENV MOUNTPOINTS="${MOUNTPOINTS[*]}" \
  CONSTRAINTS_SHA=$(sha256sum "$CONSTRAINTS" | cut -d' ' -f1) \
  LOCK_SHA=$([ -z "$GUEST_LOCK" ] || sha256sum "$GUEST_LOCK" | cut -d' ' -f1) \
  BUILT=$(date -u +%Y-%m-%dT%H:%M:%SZ) \
  python3 - >"$DIR$MANIFEST.tmp" <<'EOF'
import hashlib
import json
import os

debs = {}
for line in os.environ["DEBS"].splitlines():
    name, version, arch = line.split("\t")
    debs[name] = version if arch in ("all", "amd64") else f"{version} ({arch})"
pip = {}
for line in os.environ["FREEZE"].splitlines():
    if "==" in line:
        name, version = line.split("==", 1)
        pip[name] = version
# a short id that changes whenever any package version changes
digest = hashlib.sha256(json.dumps([debs, pip], sort_keys=True).encode()).hexdigest()
print(json.dumps({
    "image": "xdp-harness-rootfs",
    "image_id": f"bookworm-{digest[:12]}",
    "built_utc": os.environ["BUILT"],
    "debian": {
        "suite": os.environ["SUITE"],
        "variant": os.environ["VARIANT"],
        "archive": os.environ["ARCHIVE"],
        "snapshot": os.environ["SNAPSHOT"] or None,
        "release_version": os.environ["RELEASE_VERSION"] or None,
        "release_date": os.environ["RELEASE_DATE"] or None,
        "packages": debs,
    },
    "python": {
        "version": os.environ["PY_VERSION"],
        "venv": os.environ["VENV"],
        "constraints_sha256": os.environ["CONSTRAINTS_SHA"],
        "guest_lock_sha256": os.environ["LOCK_SHA"] or None,
        "packages": pip,
    },
    "mountpoints": os.environ["MOUNTPOINTS"].split(),
}, indent=2, sort_keys=False))
EOF
mv -f "$DIR$MANIFEST.tmp" "$DIR$MANIFEST"
log "done: $DIR ($(du -sh --one-file-system "$DIR" | cut -f1)), image id $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["image_id"])' "$DIR$MANIFEST")"
