"""`harness shell` through its entry point: the kernel prepared as a run prepares
it, the guest started with vng on that kernel, the stack locked while it runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import init_repo, make_series

from harness import build, vm
from harness.kconfig import config_hash
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.shell_session import open_shell


def test_shell_boots_the_prepared_kernel_with_the_stack_locked(
    harness_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    tree = tmp_path / "linux"
    init_repo(tree, {"Makefile": "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\n"})

    def configure(wt: Path, build_dir: Path, *args: object, **kw: object) -> build.ConfigResult:
        build_dir.mkdir(parents=True, exist_ok=True)
        (build_dir / ".config").write_text("CONFIG_NET=y\n")
        return build.ConfigResult(build_dir / ".config", config_hash(build_dir / ".config"), [])

    def make(wt: Path, build_dir: Path, *args: object, **kw: object) -> build.BuildResult:
        bz = build.bzimage_of(build_dir)
        bz.parent.mkdir(parents=True, exist_ok=True)
        bz.write_text("bzImage")
        return build.BuildResult(bz, build_dir / "vmlinux", tmp_path / "log", False, 1)

    booted: list[tuple[list[str], bool]] = []

    def interactive(cmd: list[str]) -> int:
        booted.append((cmd, os.get_inheritable(p._stack_fd)))
        return 7

    monkeypatch.setattr(build, "configure", configure)
    monkeypatch.setattr(build, "build", make)
    monkeypatch.setattr(vm, "interactive", interactive)
    opts = Options(
        command="shell",
        series=["baseline"],
        kernel_tree=tree,
        accel="tcg",
        results_root=tmp_path / "results",
    )
    p = Pipeline(opts, harness_repo, CacheLayout(tmp_path / "cache"), host_check=lambda s: None)
    assert open_shell(p) == 7  # the guest's status
    [(cmd, inheritable)] = booted
    assert cmd[0] == "vng" and str(build.bzimage_of(p.cache.build(p.work_key))) in cmd
    assert inheritable  # vng and QEMU keep the stack locked while the guest runs
    assert "-m pytest -v selftests/baseline" in capsys.readouterr().err
