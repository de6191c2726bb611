"""`harness bench`'s command line: which clocks it measures with."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_series

from harness import cli
from harness.bench import BenchOptions


@pytest.fixture
def seen(harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[BenchOptions]:
    """The options `harness bench` would measure with (the bench itself does not run)."""
    make_series(harness_repo, "baseline")
    make_series(harness_repo, "xdp-stats", depends_on=("baseline",))
    monkeypatch.setenv("HARNESS_REPO", str(harness_repo))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    opts: list[BenchOptions] = []

    class FakeBench:
        def __init__(self, o: BenchOptions, repo: Path, cache: object) -> None:
            o.check()
            opts.append(o)

        def execute(self) -> int:
            return 0

    monkeypatch.setattr(cli, "Bench", FakeBench)
    return opts


def test_instructions_and_ns_by_default(seen: list[BenchOptions]) -> None:
    assert cli.main(["bench"]) == 0
    (o,) = seen
    assert o.clocks == ("icount", "ns")
    assert (o.series, o.runs, o.repeat, o.pktgen_count) == (["xdp-stats"], 5, 1_000_000, 50_000)


@pytest.mark.parametrize(
    ("flags", "clocks"), [(["--no-icount"], ("ns",)), (["--no-ns"], ("icount",))]
)
def test_one_clock(seen: list[BenchOptions], flags: list[str], clocks: tuple[str, ...]) -> None:
    assert cli.main(["bench", *flags]) == 0
    assert seen[0].clocks == clocks


def test_no_clock_or_icount_under_kvm_is_usage(
    seen: list[BenchOptions], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bench", "--no-icount", "--no-ns"]) == 2
    assert "nothing to measure with" in capsys.readouterr().err
    assert cli.main(["bench", "--accel", "kvm"]) == 2
    assert "needs TCG" in capsys.readouterr().err
    assert cli.main(["bench", "--accel", "kvm", "--no-icount"]) == 0


def test_against_a_stack_of_series(seen: list[BenchOptions]) -> None:
    assert cli.main(["bench", "--against", "baseline"]) == 0
    assert seen[-1].against == ["baseline"]
    assert cli.main(["bench", "-s", "xdp-stats"]) == 0
    assert seen[-1].against == ["baseline"]
    assert cli.main(["bench", "-s", "mb", "--against", "ff,xdp-stats"]) == 0
    assert (seen[-1].series, seen[-1].against) == (["mb"], ["ff", "xdp-stats"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--against", "xdp-stats"], "names a series that --series measures"),
        (["--against", "baseline,xdp-stats"], "compare with baseline alone or with series"),
    ],
)
def test_against_what_is_measured_is_usage(
    seen: list[BenchOptions], capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    assert cli.main(["bench", *args]) == 2
    assert says in capsys.readouterr().err
