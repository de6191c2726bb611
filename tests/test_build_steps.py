"""build.make_env and the kbuild step regex on real kbuild output lines."""

from __future__ import annotations

import os
import shutil
import subprocess
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
        "CCACHE_DEPEND": "1",
        "KBUILD_BUILD_USER": "harness",
        "KBUILD_BUILD_HOST": "harness",
    }


def _ccache_stats(env: dict[str, str]) -> dict[str, int]:
    out = subprocess.run(
        ["ccache", "--print-stats"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {k: int(v) for k, v in (line.split("\t") for line in out.splitlines())}


@pytest.mark.skipif(
    shutil.which("ccache") is None or shutil.which("gcc") is None,
    reason="ccache or gcc not installed (apt-get install ccache gcc)",
)
def test_the_real_ccache_compiles_a_miss_once_and_hits_in_direct_mode(tmp_path: Path) -> None:
    """kbuild's way (-Wp,-MMD) through ccache with the build's environment: a miss
    runs no separate preprocessor pass (what made a cold kernel build 1.5x slower),
    a rebuild hits, a changed header misses."""
    env = {k: v for k, v in make_env(CacheLayout(tmp_path / "cache")).items() if "CCACHE" in k}
    (tmp_path / "ccache.conf").write_text("")  # not the user's ccache configuration
    env["CCACHE_CONFIGPATH"] = str(tmp_path / "ccache.conf")
    (tmp_path / "a.c").write_text('#include "h.h"\nint f(void) { return X; }\n')
    (tmp_path / "h.h").write_text("#define X 1\n")

    def compile_a() -> None:
        cmd = ["ccache", "gcc", "-Wp,-MMD,a.d", "-c", "a.c", "-o", "a.o"]
        subprocess.run(cmd, cwd=tmp_path, env={**os.environ, **env}, check=True)

    compile_a()
    stats = _ccache_stats(env)
    assert (stats["cache_miss"], stats.get("preprocessed_cache_miss", 0)) == (1, 0)
    compile_a()
    assert _ccache_stats(env)["direct_cache_hit"] == 1
    (tmp_path / "h.h").write_text("#define X 2\n")
    compile_a()
    assert _ccache_stats(env)["cache_miss"] == 2


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
