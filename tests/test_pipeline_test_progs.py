"""A series with bpf-selftests: test_progs is built before the boot and handed to the guest."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import pytest
from helpers import make_series

from harness import bpf_selftests, kerneltools
from harness.errors import InfraError
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.runner import Runner

GUEST = (
    '#!/bin/bash\nwhile [ $# -gt 0 ]; do [ "$1" = --rwdir ] && RES=$2; shift; done\n'
    "echo 'harness-guest: start'\necho 'harness-guest: pytest exit 0'\n"
)


@pytest.fixture
def pipeline(harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    d = make_series(harness_repo, "ff", selftests=("ff",))
    with (d / "series.toml").open("a") as f:
        f.write('bpf-selftests = ["xdp_features"]\n')
    vng = tmp_path / "bin" / "vng"
    vng.parent.mkdir()
    vng.write_text(GUEST)
    vng.chmod(vng.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{vng.parent}{os.pathsep}{os.environ['PATH']}")
    opts = Options(command="test", series=["ff"], accel="tcg", results_root=tmp_path / "results")
    p = Pipeline(opts, harness_repo, CacheLayout(tmp_path / "cache"))
    p.results.mkdir(parents=True)
    (tmp_path / "build/arch/x86/boot").mkdir(parents=True)
    return p


def test_test_progs_built_with_the_tree_bpftool_and_given_to_the_guest(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, object] = {}

    def fake_bpftool(worktree: Path, build_dir: Path, runner: Runner, log: Path) -> Path:
        calls["bpftool"] = (worktree, build_dir)
        return build_dir / "tools/bpftool/bpftool"

    def fake_build(
        names: list[str],
        worktree: Path,
        build_dir: Path,
        bpftool: Path,
        runner: Runner,
        log: Path,
        force: bool = False,
    ) -> bpf_selftests.Result:
        calls["test_progs"] = (names, bpftool, log.name, force)
        return bpf_selftests.Result(build_dir / "tools/test_progs/test_progs", (), log, False, 1.0)

    monkeypatch.setattr(kerneltools, "build_bpftool", fake_bpftool)
    monkeypatch.setattr(bpf_selftests, "build_test_progs", fake_build)
    build = tmp_path / "build"
    pipeline.boot_and_test(tmp_path / "src", build)
    # the series lists no tools: bpftool is built for the skeletons all the same
    assert calls["bpftool"] == (tmp_path / "src", build)
    assert calls["test_progs"] == (
        ["xdp_features"],
        build / "tools/bpftool/bpftool",
        "test_progs-build.log",
        False,
    )
    assert "test_progs" in pipeline.report.timings
    vng = next(line for line in pipeline.runner.log.lines if "vng --run" in line)
    guest = shlex.split(shlex.split(vng)[-1])
    assert f"test_progs={build / 'tools/test_progs/test_progs'}" in guest
    assert guest[guest.index(f"test_progs={build / 'tools/test_progs/test_progs'}") - 1] == (
        "--tool"
    )


def test_test_progs_build_failure_stops_before_the_boot(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: object, **kwargs: object) -> bpf_selftests.Result:
        raise InfraError("building test_progs failed at step 'link test_progs'")

    monkeypatch.setattr(kerneltools, "build_bpftool", lambda *a: tmp_path / "bpftool")
    monkeypatch.setattr(bpf_selftests, "build_test_progs", failing)
    with pytest.raises(InfraError, match="link test_progs"):
        pipeline.boot_and_test(tmp_path / "src", tmp_path / "build")
    assert not any("vng --run" in line for line in pipeline.runner.log.lines)
