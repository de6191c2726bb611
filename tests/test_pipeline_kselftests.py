"""A series with kselftests: each is checked in the tree before the boot and handed to
the guest runner."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from helpers import fake_vng, make_series

from harness.errors import ExitCode, UsageError
from harness.kselftests import SELFTESTS
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline

GUEST = "echo 'harness-guest: start'\necho 'harness-guest: pytest exit 0'\n"


@pytest.fixture
def pipeline(harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    make_series(harness_repo, "base", selftests=("s",))
    d = make_series(harness_repo, "ff", depends_on=("base",), selftests=("s",))
    with (harness_repo / "patches/base/series.toml").open("a") as f:
        f.write('kselftests = ["net:nl_netdev.py"]\n')
    with (d / "series.toml").open("a") as f:
        f.write('kselftests = ["drivers/net:ping.py", "net:nl_netdev.py"]\n')
    fake_vng(tmp_path / "bin", GUEST)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    opts = Options(command="test", series=["ff"], accel="tcg", results_root=tmp_path / "results")
    p = Pipeline(opts, harness_repo, CacheLayout(tmp_path / "cache"))
    p.results.mkdir(parents=True)
    (tmp_path / "build/arch/x86/boot").mkdir(parents=True)
    return p


def _tree(tmp_path: Path, *tests: str) -> Path:
    tree = tmp_path / "src"
    for rel in tests:
        f = tree / SELFTESTS / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("#!/usr/bin/env python3\n")
    return tree


def test_the_guest_gets_each_kselftest_once(pipeline: Pipeline, tmp_path: Path) -> None:
    tree = _tree(tmp_path, "net/nl_netdev.py", "drivers/net/ping.py")
    pipeline.boot_and_test(tree, tmp_path / "build")
    vng = next(line for line in pipeline.runner.log.lines if "vng --run" in line)
    guest = shlex.split(shlex.split(vng)[-1])
    asked = [guest[i + 1] for i, arg in enumerate(guest) if arg == "--kselftest"]
    assert asked == ["net:nl_netdev.py", "drivers/net:ping.py"]
    assert guest[guest.index("--kernel-tree") + 1] == str(tree)


def test_a_test_missing_from_the_tree_stops_before_the_boot(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    tree = _tree(tmp_path, "net/nl_netdev.py")
    with pytest.raises(UsageError) as info:
        pipeline.boot_and_test(tree, tmp_path / "build")
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.problem == (
        f"kselftest drivers/net:ping.py (series ff): {tree / SELFTESTS / 'drivers/net/ping.py'} "
        "is not in the kernel tree"
    )
    assert not any("vng --run" in line for line in pipeline.runner.log.lines)


def test_the_live_view_shows_each_kselftest_line(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    for line in (
        "kselftest/drivers/net/plain.sh PASSED                        [100%]",
        "kselftest/net/nl_netdev.py::nl_netdev.lo_check FAILED        [ 50%]",
        "# not a test line",
    ):
        pipeline._echo(line)
    assert capsys.readouterr().err.splitlines() == [
        "    kselftest/drivers/net/plain.sh PASSED                        [100%]",
        "    kselftest/net/nl_netdev.py::nl_netdev.lo_check FAILED        [ 50%]",
    ]
