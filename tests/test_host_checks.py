"""Every host tool a command needs is checked at its start, before the base import and
the build; and the tools a manifest asks for are checked when it is read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from helpers import built_stack, make_series, write_manifest

from harness import hostdeps
from harness.cli import make_parser
from harness.errors import ExitCode, UsageError
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.series import load_series


def without_clang(name: str) -> str | None:
    return None if name.startswith("clang") else f"/usr/bin/{name}"


@pytest.mark.parametrize("command", ["run", "test", "shell", "bench"])
def test_commands_that_compile_bpf_programs_check_clang(command: str) -> None:
    assert "clang-19" in hostdeps.missing_for(hostdeps.stages_for(command), without_clang)


def test_build_needs_no_guest_tools_and_check_patches_needs_perl() -> None:
    assert "qemu-system-x86_64" not in hostdeps.missing_for(
        hostdeps.stages_for("build"), lambda name: None
    )
    missing = hostdeps.missing_for(hostdeps.stages_for("check-patches"), lambda name: None)
    assert missing["perl"] == "perl"
    assert "make" in missing


def test_every_command_that_runs_stages_has_its_stages() -> None:
    sub = next(a for a in make_parser()._actions if a.dest == "command")
    assert sub.choices is not None
    assert set(sub.choices) - {"list"} <= set(hostdeps.COMMAND_STAGES)


def test_missing_clang_stops_run_before_the_base_import(harness_repo: Path, tmp_path: Path) -> None:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    tree, cache, _ = built_stack(tmp_path, "baseline")
    asked: list[tuple[str, ...]] = []

    def check(stages: Iterable[str]) -> None:
        asked.append(tuple(stages))
        hostdeps.check(asked[-1], which=without_clang)

    opts = Options(
        command="run", series=["baseline"], kernel_tree=tree, results_root=tmp_path / "res"
    )
    p = Pipeline(opts, harness_repo, cache, host_check=check)
    assert p.execute() == ExitCode.INFRA
    assert asked == [("source", "build", "boot", "test")]
    data = json.loads((p.results / "results.json").read_text())
    assert "clang-19 (package clang-19)" in data["error"]
    assert data["timings"] == {}  # not even the source stage ran
    assert not (p.results / "config").exists()


def test_unknown_tool_in_a_manifest_is_refused_naming_the_known_ones(
    harness_repo: Path,
) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s"\ntools = ["bpftoool"]\n')
    with pytest.raises(UsageError) as info:
        load_series(d, harness_repo)
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.problem == f"{d / 'series.toml'}: unknown tool(s) ['bpftoool'] in tools"
    assert info.value.fix == "known tools: bpftool"


def test_unknown_tool_fails_before_anything_runs(harness_repo: Path, tmp_path: Path) -> None:
    d = make_series(harness_repo, "s")
    with (d / "series.toml").open("a") as f:
        f.write('tools = ["bpftoool"]\n')
    opts = Options(command="run", series=["s"], results_root=tmp_path / "res")
    with pytest.raises(UsageError, match="unknown tool"):
        Pipeline(opts, harness_repo, CacheLayout(tmp_path / "cache"))
    assert not (tmp_path / "res").exists()
