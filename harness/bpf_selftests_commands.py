"""The command lines of the test_progs build (pure): libbpf, the BPF objects, their
skeletons, the host objects and the link, with the selftests' flags."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.bpf_selftests_scan import SELFTESTS, Skeleton
from harness.build import jobs

BINARY = "test_progs"
HOST_LIBS = ("-lelf", "-lz", "-lrt", "-lpthread")


def libbpf_command(worktree: Path, out: Path) -> list[str]:
    """libbpf.a into <out>/libbpf/, its headers into <out>/include/bpf/ (as the
    selftests Makefile does, -O0 like its default build)."""
    return [
        "make",
        "-s",
        "-C",
        str(worktree / "tools/lib/bpf"),
        f"-j{jobs()}",
        f"OUTPUT={out / 'libbpf'}/",
        f"DESTDIR={out}",
        "prefix=",
        "EXTRA_CFLAGS=-g -O0",
        f"{out / 'libbpf' / 'libbpf.a'}",
        "install_headers",
    ]


def bpf_cflags(worktree: Path, out: Path, sys_includes: Sequence[str]) -> list[str]:
    """The selftests' BPF_CFLAGS + CLANG_CFLAGS of the test_progs runner (x86, LE)."""
    return [
        "-g",
        "-Wall",
        "-Werror",
        "-D__TARGET_ARCH_x86",
        "-mlittle-endian",
        f"-I{out / 'include'}",
        f"-I{worktree / SELFTESTS}",
        f"-I{worktree / 'tools/include/uapi'}",
        "-Wno-compare-distinct-pointer-types",
        *sys_includes,
        "-DENABLE_ATOMICS_TESTS",
    ]


def bpf_compile_command(
    clang: str, cflags: Sequence[str], extra: Sequence[str], src: Path, obj: Path
) -> list[str]:
    """CLANG_BPF_BUILD_RULE of the selftests Makefile."""
    return [
        clang,
        *cflags,
        *extra,
        "-O2",
        "--target=bpf",
        "-c",
        str(src),
        "-mcpu=v3",
        "-o",
        str(obj),
    ]


def skeleton_commands(
    bpftool: Path, skel: Skeleton, out: Path
) -> list[tuple[str, list[str], Path | None]]:
    """(step, command, file its stdout goes to) for one skeleton: link its objects
    (bpftool gen object), then generate the header from the linked object."""
    linked = out / f"{skel.base}.{skel.kind}.linked.o"
    objs = [str(out / f"{o}.bpf.o") for o in skel.objects]
    gen = {
        "skel": ["gen", "skeleton", str(linked), "name", skel.name],
        "lskel": ["gen", "skeleton", "-L", str(linked), "name", skel.name],
        "subskel": ["gen", "subskeleton", str(linked), "name", skel.name],
    }[skel.kind]
    return [
        (
            f"{skel.header}: bpftool gen object",
            [str(bpftool), "gen", "object", str(linked), *objs],
            None,
        ),
        (f"{skel.header}: bpftool {' '.join(gen[:2])}", [str(bpftool), *gen], out / skel.header),
    ]


def host_cflags(worktree: Path, build_dir: Path, out: Path) -> list[str]:
    """The selftests' CFLAGS for userspace, without the optional libpcap and LLVM parts."""
    generated = build_dir / "include/generated"
    return [
        "-g",
        "-O0",
        "-rdynamic",
        "-Wall",
        "-Werror",
        "-fno-omit-frame-pointer",
        *(["-DHAVE_GENHDR"] if (generated / "autoconf.h").is_file() else []),
        f"-I{worktree / SELFTESTS}",
        f"-I{out / 'include'}",
        f"-I{generated}",
        f"-I{worktree / 'tools/lib'}",
        f"-I{worktree / 'tools/include'}",
        f"-I{worktree / 'tools/arch/x86/include'}",
        f"-I{worktree / 'tools/include/uapi'}",
        f"-I{out}",
    ]


def link_command(
    cflags: Sequence[str], main_obj: Path, test_objs: Sequence[Path], helpers: Path, out: Path
) -> list[str]:
    """test_progs.o and the tests first; the helpers as an archive, so only the members
    something references are linked in; libbpf.a static; the rest from the host."""
    return [
        "gcc",
        *cflags,
        str(main_obj),
        *map(str, test_objs),
        str(helpers),
        str(out / "libbpf" / "libbpf.a"),
        *HOST_LIBS,
        "-o",
        str(out / BINARY),
    ]
