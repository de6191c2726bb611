"""Host dependencies per stage: what must be installed, and which package brings it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import MissingDependency


@dataclass(frozen=True)
class Requirement:
    what: str  # a command on PATH, or an absolute path to a file
    package: str  # the Debian package (or "pip:<name>") that provides it
    stages: frozenset[str]

    def present(self, which: Callable[[str], str | None] = shutil.which) -> bool:
        if self.what.startswith("/"):
            return Path(self.what).exists()
        return which(self.what) is not None


def _req(what: str, package: str, *stages: str) -> Requirement:
    return Requirement(what, package, frozenset(stages))


REQUIREMENTS: tuple[Requirement, ...] = (
    _req("git", "git", "source"),
    _req("tar", "tar", "source"),
    _req("xz", "xz-utils", "source"),
    _req("make", "make", "build"),
    _req("gcc", "gcc", "build"),
    _req("flex", "flex", "build"),
    _req("bison", "bison", "build"),
    _req("bc", "bc", "build"),
    _req("pahole", "dwarves", "build"),
    _req("ccache", "ccache", "build"),
    _req("/usr/include/libelf.h", "libelf-dev", "build"),
    _req("/usr/include/openssl/ssl.h", "libssl-dev", "build"),
    _req("qemu-system-x86_64", "qemu-system-x86", "boot"),
    _req("vng", "pip:virtme-ng", "boot"),
    # Without udev on the host, virtme-ng's init cannot find its virtio-serial
    # ports: the guest's output is lost and vng exits 255.
    _req("udevadm", "udev", "boot"),
    _req("bpftool", "bpftool", "test"),
    _req("ip", "iproute2", "test"),
    _req("/usr/include/bpf/bpf_helpers.h", "libbpf-dev", "test"),
    _req("perl", "perl", "checkpatch"),
)

# What each command goes through, so that every tool it will need is checked at its
# start, before the base import and the build (minutes), not when its stage comes.
# "test" covers the host side of the tests: clang for the suites' BPF programs (also
# what `shell` compiles), bpftool and test_progs built from the tree.
COMMAND_STAGES: dict[str, tuple[str, ...]] = {
    "run": ("source", "build", "boot", "test"),
    "build": ("source", "build"),
    "test": ("source", "boot", "test"),
    "shell": ("source", "build", "boot", "test"),
    "check-patches": ("source", "build", "checkpatch"),
    "bench": ("source", "build", "boot", "test"),
    "check": ("source", "build", "checkpatch"),
    # `check --no-build`: git (the base), perl (checkpatch.pl)
    "check --no-build": ("source", "checkpatch"),
    "reproduce": ("source", "build", "boot", "test"),  # a `run`
    "compare": (),  # reads results only
    "costs": (),  # reads results only
    "proofs": ("source", "build", "boot", "test"),  # runs
    "bisect": ("source", "build", "boot", "test"),  # a build and a boot per point
}

CLANG_CANDIDATES = ("clang-19", "clang")


def find_clang(which: Callable[[str], str | None] = shutil.which) -> str | None:
    for name in CLANG_CANDIDATES:
        path = which(name)
        if path:
            return path
    return None


def missing_for(
    stages: Iterable[str], which: Callable[[str], str | None] = shutil.which
) -> dict[str, str]:
    wanted = set(stages)
    missing = {
        r.what: r.package for r in REQUIREMENTS if r.stages & wanted and not r.present(which)
    }
    if "test" in wanted and find_clang(which) is None:
        missing["clang-19"] = "clang-19"
    return missing


def stages_for(command: str) -> tuple[str, ...]:
    return COMMAND_STAGES[command]


def check(stages: Iterable[str], which: Callable[[str], str | None] = shutil.which) -> None:
    """Raise one error naming every missing tool and its package."""
    missing = missing_for(stages, which)
    if missing:
        raise MissingDependency(missing)
