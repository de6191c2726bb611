"""build.make_env and the kbuild step regex on real kbuild output lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.build import _STEP_RE, jobs, make_env
from harness.paths import CacheLayout


def test_make_env(tmp_path: Path) -> None:
    cache = CacheLayout(tmp_path / "cache")
    assert make_env(cache) == {
        "CCACHE_DIR": str(tmp_path / "cache" / "ccache"),
        "CCACHE_BASEDIR": str(tmp_path / "cache"),
        "CCACHE_NOHASHDIR": "1",
        "CCACHE_COMPILERCHECK": "content",
        "KBUILD_BUILD_USER": "harness",
        "KBUILD_BUILD_HOST": "harness",
    }


def test_jobs_is_cpus_plus_one() -> None:
    assert jobs() >= 2


@pytest.mark.parametrize(
    ("line", "step", "what"),
    [
        ("  CC      kernel/fork.o\n", "CC", "kernel/fork.o"),
        ("  LD      vmlinux.o\n", "LD", "vmlinux.o"),
        ("  BTF     .btf.vmlinux.bin.o\n", "BTF", ".btf.vmlinux.bin.o"),
        ("  HOSTCC  scripts/basic/fixdep", "HOSTCC", "scripts/basic/fixdep"),
        ("  CC [M]  net/sched/sch_fq.o", "CC", "[M]  net/sched/sch_fq.o"),
        ("  AS      arch/x86/entry/entry_64.o", "AS", "arch/x86/entry/entry_64.o"),
        ("  AR      net/core/built-in.a", "AR", "net/core/built-in.a"),
        (
            "  GEN     arch/x86/include/generated/asm/orc_hash.h",
            "GEN",
            "arch/x86/include/generated/asm/orc_hash.h",
        ),
        (
            "  SYSHDR  arch/x86/include/generated/uapi/asm/unistd_64.h",
            "SYSHDR",
            "arch/x86/include/generated/uapi/asm/unistd_64.h",
        ),
        ("  DESCEND objtool", "DESCEND", "objtool"),
        (
            "  VDSO2C  arch/x86/entry/vdso/vdso-image-64.c",
            "VDSO2C",
            "arch/x86/entry/vdso/vdso-image-64.c",
        ),
        (
            "  MKPIGGY arch/x86/boot/compressed/piggy.S",
            "MKPIGGY",
            "arch/x86/boot/compressed/piggy.S",
        ),
        ("  KSYMS   .tmp_vmlinux1.kallsyms.S", "KSYMS", ".tmp_vmlinux1.kallsyms.S"),
        ("  OBJCOPY arch/x86/boot/setup.bin", "OBJCOPY", "arch/x86/boot/setup.bin"),
    ],
)
def test_step_lines(line: str, step: str, what: str) -> None:
    m = _STEP_RE.match(line)
    assert m is not None
    assert (m.group(1), m.group(2)) == (step, what)


@pytest.mark.parametrize(
    "line",
    [
        "Kernel: arch/x86/boot/bzImage is ready  (#1)",
        "  Kernel: arch/x86/boot/bzImage is ready  (#1)",
        "make[1]: Entering directory '/root/.cache/xdp-harness/build/baseline'",
        "drivers/net/veth.c:1214:23: error: 'rq' undeclared (first use in this function)",
        " 1214 |         struct veth_rq *r = &rq[i];",
        "      |                              ^~",
        "  CC",
        "",
        "SYNC    include/config/auto.conf",
        "***",
    ],
)
def test_non_step_lines(line: str) -> None:
    assert _STEP_RE.match(line) is None
