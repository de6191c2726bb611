"""configure() and build() against a fake `make` on PATH (no kernel tree needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import script

from harness.build import DEFAULT_STEPS, STAMP, STEPS, ConfigResult, build, configure
from harness.errors import BrokenBuild, ExitCode, InfraError, UsageError
from harness.kconfig import config_hash
from harness.paths import CacheLayout
from harness.runner import Runner

# Finds O=<dir> among the arguments, like kbuild.
FIND_O = (
    'for a in "$@"; do case "$a" in O=*) O="${a#O=}";; KCONFIG_ALLCONFIG=*) '
    'ALL="${a#KCONFIG_ALLCONFIG=}";; esac; done\n'
)

KCONFIG = """\
config XDP_SOCKETS_DIAG
\ttristate "XDP sockets: monitoring interface"
\tdepends on XDP_SOCKETS
"""


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    return bindir


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    wt = tmp_path / "worktree"
    (wt / "net" / "xdp").mkdir(parents=True)
    (wt / "net" / "xdp" / "Kconfig").write_text(KCONFIG)
    return wt


@pytest.fixture
def fragments(tmp_path: Path) -> list[Path]:
    base = tmp_path / "base.config"
    base.write_text("CONFIG_NET=y\nCONFIG_BPF_SYSCALL=y\n# CONFIG_XDP_SOCKETS is not set\n")
    xdp = tmp_path / "xdp.config"
    xdp.write_text("CONFIG_XDP_SOCKETS=y\nCONFIG_XDP_SOCKETS_DIAG=y\n")
    return [base, xdp]


def test_configure_ok(
    fake_path: Path, worktree: Path, fragments: list[Path], tmp_path: Path
) -> None:
    # allnoconfig that keeps every forced symbol, as kconfig does when deps are met.
    script(fake_path / "make", FIND_O + 'cp "$ALL" "$O/.config"\n')
    build_dir = tmp_path / "build"
    cfg = configure(worktree, build_dir, fragments, Runner())
    assert cfg.dotconfig == build_dir / ".config"
    assert cfg.hash == config_hash(build_dir / ".config")
    assert cfg.overrides == ["CONFIG_XDP_SOCKETS: base.config says n, xdp.config says y"]
    merged = (build_dir / "harness.config").read_text()
    assert merged.startswith("# merged from: base.config, xdp.config\n")
    assert "CONFIG_XDP_SOCKETS_DIAG=y\n" in merged


def test_configure_reports_dropped_symbol(
    fake_path: Path, worktree: Path, fragments: list[Path], tmp_path: Path
) -> None:
    script(fake_path / "make", FIND_O + 'grep -v XDP_SOCKETS_DIAG "$ALL" > "$O/.config"\n')
    build_dir = tmp_path / "build"
    with pytest.raises(UsageError) as info:
        configure(worktree, build_dir, fragments, Runner())
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert f"(see {build_dir / '.config'})" in err.problem
    assert (
        "CONFIG_XDP_SOCKETS_DIAG: requested y, got n "
        "(defined in net/xdp/Kconfig; depends on XDP_SOCKETS)"
    ) in err.problem


def test_configure_make_failure(
    fake_path: Path, worktree: Path, fragments: list[Path], tmp_path: Path
) -> None:
    script(
        fake_path / "make",
        'echo "scripts/kconfig/conf: Makefile:1: *** missing separator.  Stop." >&2\nexit 2\n',
    )
    with pytest.raises(InfraError) as info:
        configure(worktree, tmp_path / "build", fragments, Runner())
    assert info.value.exit_code == ExitCode.INFRA
    assert info.value.problem.startswith("kernel configuration failed:\n")
    assert "missing separator" in info.value.problem


BUILD_OK = (
    FIND_O
    + 'echo "$CCACHE_DIR" > "$O/ccache-dir"\n'
    + "echo \"make[1]: Entering directory '$O'\"\n"
    + 'echo "  SYNC    include/config/auto.conf"\n'
    + 'echo "  CC      kernel/fork.o"\n'
    + 'echo "  CC      net/core/filter.o"\n'
    + 'echo "  LD      vmlinux.o"\n'
    + 'echo "  BTF     .btf.vmlinux.bin.o"\n'
    + 'echo "Kernel: arch/x86/boot/bzImage is ready  (#1)"\n'
    + 'mkdir -p "$O/arch/x86/boot" && echo bz > "$O/arch/x86/boot/bzImage"\n'
)


def _cfg(tmp_path: Path) -> ConfigResult:
    dotconfig = tmp_path / "build" / ".config"
    dotconfig.parent.mkdir(parents=True, exist_ok=True)
    dotconfig.write_text("CONFIG_NET=y\n")
    return ConfigResult(dotconfig, config_hash(dotconfig), [])


def test_build_counts_steps_and_skips_when_unchanged(
    fake_path: Path, worktree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script(fake_path / "make", BUILD_OK)
    cache = CacheLayout(tmp_path / "cache")
    build_dir = tmp_path / "build"
    cfg = _cfg(tmp_path)
    log = tmp_path / "build.log"
    res = build(worktree, build_dir, "abc123", cfg, cache, Runner(), log)
    assert not res.skipped
    assert res.steps == 5  # SYNC, CC, CC, LD, BTF
    assert res.bzimage == build_dir / "arch/x86/boot/bzImage"
    assert "  CC      net/core/filter.o" in log.read_text()
    assert (build_dir / STEPS).read_text() == "5"
    assert (build_dir / STAMP).exists()
    assert (build_dir / "ccache-dir").read_text().strip() == str(cache.ccache)
    assert f"build: ~{DEFAULT_STEPS} steps (estimated)" in capsys.readouterr().err

    again = build(worktree, build_dir, "abc123", cfg, cache, Runner(), log)
    assert again.skipped
    assert again.steps == 0
    assert "build skipped: commit abc123" in log.read_text()

    forced = build(worktree, build_dir, "abc123", cfg, cache, Runner(), log, force=True)
    assert not forced.skipped
    changed = build(worktree, build_dir, "def456", cfg, cache, Runner(), log)
    assert not changed.skipped


def test_build_failure_names_log_and_errors(
    fake_path: Path, worktree: Path, tmp_path: Path
) -> None:
    script(
        fake_path / "make",
        'echo "  CC      drivers/net/veth.o"\n'
        "echo \"drivers/net/veth.c:1214:23: error: 'rq' undeclared (first use in this function)\"\n"
        'echo "make[4]: *** [scripts/Makefile.build:229: drivers/net/veth.o] Error 1"\n'
        "exit 2\n",
    )
    log = tmp_path / "build.log"
    with pytest.raises(BrokenBuild) as info:
        build(
            worktree,
            tmp_path / "build",
            "abc",
            _cfg(tmp_path),
            CacheLayout(tmp_path),
            Runner(),
            log,
        )
    err = info.value
    # a compiler error in the code: the series' fault (exit 2), not the machine's
    assert err.exit_code == ExitCode.USAGE
    assert err.problem.startswith("kernel build failed (make exit 2) after ")
    assert f"log: {log}" in err.problem
    assert "veth.c:1214:23: error: 'rq' undeclared" in err.problem
    assert "drivers/net/veth.o] Error 1" in err.problem
    assert err.fix is not None
    assert "incremental" in err.fix


@pytest.mark.parametrize(
    "output",
    [
        "ld: vmlinux.o: in function `xdp_x': net/core/xdp.c:12: undefined reference to `y'",
        'ERROR: modpost: "xdp_y" [drivers/net/veth.ko] undefined!',
        "make[4]: *** No rule to make target 'net/core/xdp_stats.o', needed by 'net/core/'.",
        "net/core/xdp.h:3:10: fatal error: xdp_stats.h: No such file or directory",
    ],
)
def test_linker_and_kbuild_errors_are_the_series_fault(
    fake_path: Path, worktree: Path, tmp_path: Path, output: str
) -> None:
    script(fake_path / "make", f"cat <<'EOF'\n{output}\nEOF\nexit 2\n")
    cfg, cache = _cfg(tmp_path), CacheLayout(tmp_path)
    with pytest.raises(BrokenBuild):
        build(worktree, tmp_path / "build", "abc", cfg, cache, Runner(), tmp_path / "b.log")


@pytest.mark.parametrize(
    "output",
    [
        # the OOM killer took cc1: a compiler error follows, but the machine is at fault
        "gcc: fatal error: Killed signal terminated program cc1\n"
        "net/core/dev.c:1:1: error: cannot write output",
        "net/core/dev.c:1:1: fatal error: error writing to /tmp/cc1.s: No space left on device",
        "during RTL pass: expand\nnet/core/dev.c:9:1: internal compiler error: Segmentation fault",
        "make: *** [Makefile:224: __sub-make] Error 2",  # no diagnostic at all
    ],
)
def test_a_build_failing_for_the_machine_is_infrastructure(
    fake_path: Path, worktree: Path, tmp_path: Path, output: str
) -> None:
    script(fake_path / "make", f"cat <<'EOF'\n{output}\nEOF\nexit 2\n")
    cfg, cache = _cfg(tmp_path), CacheLayout(tmp_path)
    with pytest.raises(InfraError) as info:
        build(worktree, tmp_path / "build", "abc", cfg, cache, Runner(), tmp_path / "b.log")
    assert info.value.exit_code == ExitCode.INFRA
    assert not isinstance(info.value, BrokenBuild)


def test_make_killed_by_a_signal_is_infrastructure(
    fake_path: Path, worktree: Path, tmp_path: Path
) -> None:
    script(fake_path / "make", 'echo "x.c:1:1: error: y"\nkill -9 $$\n')
    cfg, cache = _cfg(tmp_path), CacheLayout(tmp_path)
    with pytest.raises(InfraError) as info:
        build(worktree, tmp_path / "build", "abc", cfg, cache, Runner(), tmp_path / "b.log")
    assert info.value.exit_code == ExitCode.INFRA
    assert "make exit -9" in info.value.problem


def test_build_without_bzimage(fake_path: Path, worktree: Path, tmp_path: Path) -> None:
    script(fake_path / "make", 'echo "  CC      kernel/fork.o"\n')
    with pytest.raises(InfraError, match=r"make succeeded but .*bzImage is missing"):
        build(
            worktree,
            tmp_path / "build",
            "abc",
            _cfg(tmp_path),
            CacheLayout(tmp_path),
            Runner(),
            tmp_path / "build.log",
        )


def test_configure_skipped_when_commit_and_fragments_unchanged(
    fake_path: Path, worktree: Path, fragments: list[Path], tmp_path: Path
) -> None:
    script(fake_path / "make", FIND_O + 'cp "$ALL" "$O/.config"\necho ran >> "$O/make-calls"\n')
    build_dir = tmp_path / "build"
    first = configure(worktree, build_dir, fragments, Runner(), head="c1")
    again = configure(worktree, build_dir, fragments, Runner(), head="c1")
    assert again.hash == first.hash
    assert (build_dir / "make-calls").read_text() == "ran\n", "second call must not run make"
    configure(worktree, build_dir, fragments, Runner(), head="c2")  # new commit: Kconfig may differ
    (build_dir / ".config").write_text((build_dir / ".config").read_text() + "# edited\n")
    configure(worktree, build_dir, fragments, Runner(), head="c2")  # .config touched by hand
    assert (build_dir / "make-calls").read_text() == "ran\nran\nran\n"
