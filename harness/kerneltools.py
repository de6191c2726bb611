"""Userspace tools built from the kernel tree under test (a series may change them)."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.build import jobs
from harness.errors import InfraError, UsageError
from harness.hostdeps import find_clang
from harness.runner import Runner
from harness.series import KNOWN_TOOLS as KNOWN

# bpftool without a JIT disassembler (LLVM or libbfd): no test dumps JITed code, and
# without one the binary needs libelf, zlib and libc (and libcap where the host has
# libcap-dev), which the guest image has; a host's libLLVM-<N> would make it fail in
# a vm-images guest (--image). guest_image.check_libraries checks each built tool.
NO_DISASSEMBLER = (
    "feature-llvm=0",
    "feature-libbfd=0",
    "feature-libbfd-liberty=0",
    "feature-libbfd-liberty-z=0",
)
_FLAGS_STAMP = ".harness-make-flags"


def build_bpftool(worktree: Path, build_dir: Path, runner: Runner, log: Path) -> Path:
    """tools/bpf/bpftool of the tree, out of tree under <build>/tools/bpftool/. Built
    again from scratch when it was built with other feature flags (its Makefile
    relinks on changed objects only)."""
    out = build_dir / "tools" / "bpftool"
    stamp = out / _FLAGS_STAMP
    flags = " ".join(NO_DISASSEMBLER)
    if out.is_dir() and (not stamp.is_file() or stamp.read_text() != flags):
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["make", "-s", "-C", str(worktree / "tools/bpf/bpftool"), f"OUTPUT={out}/", f"-j{jobs()}"]
    cmd += NO_DISASSEMBLER
    clang = find_clang()
    if clang:
        cmd.append(f"CLANG={clang}")
    strip = shutil.which("llvm-strip-19") or shutil.which("llvm-strip")
    if strip:
        cmd.append(f"LLVM_STRIP={strip}")
    proc = runner.run(cmd, check=False)
    log.write_text(proc.stdout + proc.stderr)
    binary = out / "bpftool"
    if proc.returncode != 0 or not binary.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise InfraError(f"building bpftool from {worktree} failed; log: {log}\n{tail}")
    stamp.write_text(flags)
    return binary


def build_tools(
    names: list[str], worktree: Path, build_dir: Path, runner: Runner, results: Path
) -> dict[str, Path]:
    built: dict[str, Path] = {}
    for name in names:
        if name not in KNOWN:
            raise UsageError(f"unknown tool {name!r} in a series manifest", f"known: {KNOWN}")
        built[name] = build_bpftool(worktree, build_dir, runner, results / f"{name}-build.log")
    return built
