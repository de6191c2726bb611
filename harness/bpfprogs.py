"""Compile the selftests' BPF C programs on the host (clang is slow under TCG)."""

from __future__ import annotations

import platform
from pathlib import Path

from harness.errors import MissingDependency, UsageError
from harness.hostdeps import find_clang
from harness.runner import Runner


def multiarch_include() -> Path:
    return Path(f"/usr/include/{platform.machine()}-linux-gnu")


def _clang() -> str:
    clang = find_clang()
    if clang is None:
        raise MissingDependency({"clang-19": "clang-19"})
    return clang


def compile_suites(
    repo: Path, suites: list[str], worktree: Path, outdir: Path, runner: Runner
) -> list[Path]:
    """selftests/<suite>/progs/<stem>.bpf.c -> outdir/<suite>/<stem>.bpf.o.

    The kernel tree's tools/include/uapi comes first, so a series' UAPI changes are
    what the programs see. clang is needed only when there is a program to compile."""
    objs = []
    for suite in suites:
        progs = repo / "selftests" / suite / "progs"
        if progs.is_dir() and any(progs.glob("*.bpf.c")):
            objs += compile_dir(repo, progs, worktree, outdir / suite, runner)
    return objs


def compile_dir(repo: Path, progs: Path, worktree: Path, dest: Path, runner: Runner) -> list[Path]:
    """Every <progs>/<stem>.bpf.c -> <dest>/<stem>.bpf.o, against the tree's UAPI."""
    clang = _clang()
    dest.mkdir(parents=True, exist_ok=True)
    objs = []
    for src in sorted(progs.glob("*.bpf.c")):
        obj = dest / (src.name.removesuffix(".c") + ".o")
        cmd = [
            clang,
            "-O2",
            "-g",
            "-Wall",
            "-Werror",
            "-target",
            "bpf",
            f"-I{worktree / 'tools/include/uapi'}",
            f"-I{repo / 'selftests/include'}",
            f"-I{multiarch_include()}",
            "-c",
            str(src),
            "-o",
            str(obj),
        ]
        proc = runner.run(cmd, check=False)
        if proc.returncode != 0:
            shown = src.relative_to(repo) if src.is_relative_to(repo) else src
            raise UsageError(
                f"BPF program {shown} does not compile:\n"
                + (proc.stderr or proc.stdout).strip()[-2000:],
                "fix the program; the command is in commands.sh of this run",
            )
        objs.append(obj)
    return objs
