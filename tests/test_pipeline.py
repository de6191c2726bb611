"""Pipeline set-up, console echo, and an early-stopping run that still writes results."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from helpers import init_repo, make_series, patch_text

from harness.errors import ExitCode
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline

MAKEFILE = "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\n"


@pytest.fixture
def repo(harness_repo: Path) -> Path:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    make_series(
        harness_repo,
        "xdp-meta",
        depends_on=("baseline",),
        config=("xdp.config",),
        selftests=("baseline", "xdp_meta"),
        patches={"0001-x.patch": patch_text("[PATCH] xdp: x")},
    )
    (harness_repo / "kernel-config" / "debug.config").write_text("CONFIG_KASAN=y\n")
    return harness_repo


def _pipeline(
    repo: Path,
    tmp_path: Path,
    series: tuple[str, ...] = (),
    all_series: bool = False,
    debug_config: bool = False,
) -> Pipeline:
    opts = Options(
        command="run",
        series=list(series),
        all_series=all_series,
        debug_config=debug_config,
        results_root=tmp_path / "results",
    )
    return Pipeline(opts, repo, CacheLayout(tmp_path / "cache"))


def test_stack_key_suites_and_results_dir(repo: Path, tmp_path: Path) -> None:
    p = _pipeline(repo, tmp_path, series=("xdp-meta",))
    assert [s.name for s in p.stack] == ["baseline", "xdp-meta"]
    assert p.key == "xdp-meta"
    assert p.suites == ["baseline", "xdp_meta"]
    assert p.run_id.endswith("-xdp-meta")
    assert p.results == tmp_path / "results" / p.run_id
    assert p.report.series == ["baseline", "xdp-meta"]


def test_all_series(repo: Path, tmp_path: Path) -> None:
    p = _pipeline(repo, tmp_path, all_series=True)
    assert [s.name for s in p.stack] == ["baseline", "xdp-meta"]


def test_fragments(repo: Path, tmp_path: Path) -> None:
    cfg = repo / "kernel-config"
    p = _pipeline(repo, tmp_path, series=("xdp-meta",))
    assert p.fragments() == [cfg / "base.config", cfg / "xdp.config"]
    p = _pipeline(repo, tmp_path, series=("xdp-meta",), debug_config=True)
    assert p.fragments() == [cfg / "base.config", cfg / "xdp.config", cfg / "debug.config"]


def test_echo_shows_splats_and_test_lines_only(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = _pipeline(repo, tmp_path, series=("baseline",))
    for line in (
        "[    0.000000] Linux version 6.12.117",
        "[   14.202114] WARNING: CPU: 1 PID: 412 at net/core/filter.c:4466 f+0x1/0x2",
        "harness-guest: start",
        "selftests/baseline/test_veth.py::test_xdp_pass PASSED",
        "collecting ... collected 3 items",
        "harness-guest: pytest exit 0",
    ):
        p._echo(line)
    assert capsys.readouterr().err.splitlines() == [
        "    KERNEL| [   14.202114] WARNING: CPU: 1 PID: 412 at net/core/filter.c:4466 f+0x1/0x2",
        "    selftests/baseline/test_veth.py::test_xdp_pass PASSED",
    ]


def test_test_without_a_built_kernel_writes_results(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "linux"
    init_repo(tree, {"Makefile": MAKEFILE})
    opts = Options(
        command="test", series=["xdp-meta"], kernel_tree=tree, results_root=tmp_path / "results"
    )
    p = Pipeline(opts, repo, CacheLayout(tmp_path / "cache"), host_check=lambda stages: None)
    assert p.execute() == ExitCode.USAGE
    data = json.loads((p.results / "results.json").read_text())
    assert data["exit_code"] == 2
    assert data["verdict"] == "ERROR: bad usage or input"
    assert "no built kernel for xdp-meta" in data["error"]
    assert "run: harness build --series baseline --series xdp-meta" in data["error"]
    # said before the base is imported: no mirror of the tree, no source stage
    assert not (tmp_path / "cache" / "trees").exists()
    assert "source" not in data["timings"]
    assert (p.results / "summary.txt").read_text().endswith("ERROR: bad usage or input (exit 2)\n")
    assert (p.results / "commands.sh").read_text().startswith("#!/bin/sh\n")
    assert (p.results.parent / "latest").resolve() == p.results.resolve()
    assert "ERROR: bad usage or input (exit 2)" in capsys.readouterr().out


@pytest.mark.parametrize(("built_debug", "asked_debug"), [(True, False), (False, True)])
def test_test_refuses_a_kernel_configured_otherwise(
    repo: Path, tmp_path: Path, built_debug: bool, asked_debug: bool
) -> None:
    """A cached --debug-config build is not tested as the plain kernel, nor the reverse."""
    from harness import build

    cache = CacheLayout(tmp_path / "cache")
    opts = Options(
        command="test",
        series=["xdp-meta"],
        results_root=tmp_path / "results",
        debug_config=asked_debug,
    )
    p = Pipeline(opts, repo, cache, host_check=lambda stages: None)
    build_dir = cache.build(p.key)
    (build_dir / "arch/x86/boot").mkdir(parents=True)
    (build_dir / "arch/x86/boot/bzImage").write_bytes(b"kernel")
    (build_dir / build.STAMP).write_text("{}")
    built = Pipeline(dataclasses.replace(opts, debug_config=built_debug), repo, cache)
    text = build.merge_fragments(built.fragments()).text
    digest = hashlib.sha256(text.encode()).hexdigest()
    (build_dir / build.CONFIG_STAMP).write_text(json.dumps({"stamp": {"fragments": digest}}))
    assert build.configured_with(build_dir, built.fragments()) is True
    assert p.execute() == ExitCode.USAGE
    error = json.loads((p.results / "results.json").read_text())["error"]
    was = "with" if built_debug else "without"
    assert f"the kernel built for {p.key} was configured {was} --debug-config" in error
    assert not (cache.root / "linux.git").exists()  # said before the base import


def test_a_debug_build_has_a_directory_of_its_own(repo: Path, tmp_path: Path) -> None:
    """Switching between --debug-config and the plain kernel rebuilds neither."""
    cache = CacheLayout(tmp_path / "cache")
    plain = Pipeline(Options(command="build", series=["xdp-meta"]), repo, cache)
    debug = Pipeline(Options(command="build", series=["xdp-meta"], debug_config=True), repo, cache)
    assert plain.key == "xdp-meta"
    assert debug.key == "xdp-meta.with-debug"
    assert cache.build(plain.key) != cache.build(debug.key)
