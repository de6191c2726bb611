"""harness bisect: the search with an injected test_at, the command with an injected
tester (exit codes, bad input, the report), and with a fake make and vng end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import make_series
from mboxes import new_file, patch

from harness.bisect_run import Bisect, BisectOptions
from harness.bisect_search import Outcome, Point, Search, Status, TestAt, search, steps_left
from harness.check_intake import Intake
from harness.errors import ExitCode, InfraError
from harness.paths import CacheLayout
from harness.series import Series


def first_bad_at(bad: int, skip: tuple[int, ...] = ()) -> tuple[TestAt, list[int]]:
    """test_at for a test that fails from patch `bad` on; `skip` points are skipped."""
    boots: list[int] = []

    def test_at(i: int) -> Point:
        boots.append(i)
        if i in skip:
            return Point(i, Outcome.SKIP, 1.0, "the build broke")
        return Point(i, Outcome.FAIL if i >= bad else Outcome.PASS, 1.0)

    return test_at, boots


def run_search(n: int, bad: int, **kw: Any) -> tuple[Search, list[int], list[str]]:
    test_at, boots = first_bad_at(bad, kw.pop("skip", ()))
    notes: list[str] = []
    return search(n, test_at, notes.append, **kw), boots, notes


def test_fails_from_patch_5_of_8_found_in_four_boots() -> None:
    s, boots, notes = run_search(8, 5)
    assert (s.status, s.first_bad) == (Status.FOUND, 5)
    assert boots[0] == 8 and len(boots) <= 4
    assert "bisect: 3 steps left, testing 0004" in notes


@pytest.mark.parametrize("bad", range(1, 9))
def test_every_first_bad_of_8_in_at_most_four_boots(bad: int) -> None:
    s, boots, _ = run_search(8, bad)
    assert (s.status, s.first_bad) == (Status.FOUND, bad)
    assert len(boots) <= 4


def test_fails_at_the_first_patch() -> None:
    s, boots, _ = run_search(8, 1)
    assert (s.status, s.first_bad) == (Status.FOUND, 1)
    assert 0 not in boots  # the base is good by assumption


def test_passes_with_the_whole_series_nothing_to_bisect() -> None:
    s, boots, _ = run_search(8, 99)
    assert s.status is Status.NOTHING and boots == [8]


def test_a_skip_at_the_midpoint_tries_a_neighbour() -> None:
    s, boots, _ = run_search(8, 6, skip=(4,))
    assert (s.status, s.first_bad) == (Status.FOUND, 6)
    assert boots[:3] == [8, 4, 3]


def test_a_skip_next_to_the_first_bad_is_ambiguous() -> None:
    s, _, _ = run_search(8, 5, skip=(4,))
    assert s.status is Status.AMBIGUOUS and s.candidates == (4, 5)


def test_every_candidate_skipped() -> None:
    s, boots, _ = run_search(4, 2, skip=(1, 2, 3))
    assert s.status is Status.ALL_SKIPPED and s.candidates == (1, 2, 3, 4)
    assert sorted(boots) == [1, 2, 3, 4]


def test_check_base_failing_base() -> None:
    s, boots, _ = run_search(8, 0, check_base=True)
    assert s.status is Status.FAILS_BEFORE and boots == [0]


def test_check_base_passing_base_then_bisects() -> None:
    s, boots, _ = run_search(8, 3, check_base=True)
    assert (s.status, s.first_bad, boots[:2]) == (Status.FOUND, 3, [0, 8])


def test_good_narrows_the_search() -> None:
    s, boots, _ = run_search(8, 7, good=6)
    assert (s.status, s.first_bad) == (Status.FOUND, 7)
    assert all(b > 6 for b in boots)


def test_untestable_whole_series() -> None:
    s, _, _ = run_search(8, 5, skip=(8,))
    assert s.status is Status.UNTESTABLE


def test_steps_left() -> None:
    assert [steps_left(n) for n in (0, 1, 2, 3, 7, 8)] == [0, 1, 2, 2, 3, 4]


# -- the command, with an injected tester ---------------------------------------------


def _series(repo: Path, n: int = 8) -> None:
    files = {
        f"{i:04d}-net-add-{i}.patch": "From 0000000000000000000000000000000000000000 Mon Sep "
        "17 00:00:00 2001\n" + patch(i, n, f"net: add {i}", new_file(f"net/core/f{i}.c", ["x"]))
        for i in range(1, n + 1)
    }
    make_series(repo, "s8", selftests=("s8",), patches=files)


def bisect(
    tmp_path: Path, repo: Path, test_at: TestAt, **kw: Any
) -> tuple[ExitCode, dict[str, Any]]:
    def tester(b: Bisect, intake: Intake, target: Series, suites: list[str]) -> TestAt:
        return test_at

    opts = BisectOptions(results_root=tmp_path / "results", **kw)
    b = Bisect(opts, repo, CacheLayout(tmp_path / "cache"), host_check=lambda s: None)
    b.make_tester = tester
    code = b.execute()
    results = (tmp_path / "results" / "latest").resolve()
    data = json.loads((results / "bisect.json").read_text())
    assert (results / "bisect.md").is_file()
    return code, data


def test_command_finds_patch_5(
    tmp_path: Path, harness_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _series(harness_repo)
    code, data = bisect(tmp_path, harness_repo, first_bad_at(5)[0], keyword="test_x", series="s8")
    assert code == ExitCode.FAILED
    assert data["first_bad"]["index"] == 5 and data["first_bad"]["subject"] == "net: add 5"
    assert data["first_bad"]["file"].endswith("0005-net-add-5.patch")
    assert [t["index"] for t in data["tested"]] == [8, 4, 6, 5]
    out = capsys.readouterr()
    assert "FIRST FAILING: 0005 net: add 5" in out.out
    assert "bisect: 3 steps left, testing 0004 net: add 4" in out.err


def test_command_nothing_to_bisect(tmp_path: Path, harness_repo: Path) -> None:
    _series(harness_repo)
    code, data = bisect(tmp_path, harness_repo, first_bad_at(99)[0], keyword="t", series="s8")
    assert code == ExitCode.OK and "nothing to bisect" in data["verdict"]


def test_command_check_base_fails_before_the_series(tmp_path: Path, harness_repo: Path) -> None:
    _series(harness_repo)
    code, data = bisect(
        tmp_path, harness_repo, first_bad_at(0)[0], keyword="t", series="s8", check_base=True
    )
    assert code == ExitCode.FAILED and "fails before the series" in data["verdict"]
    assert [t["index"] for t in data["tested"]] == [0]


def test_command_vm_never_boots_is_infrastructure(tmp_path: Path, harness_repo: Path) -> None:
    _series(harness_repo)
    code, data = bisect(
        tmp_path, harness_repo, first_bad_at(5, skip=(8,))[0], keyword="t", series="s8"
    )
    assert code == ExitCode.INFRA and data["status"] == "untestable"


def test_command_build_broke_at_every_candidate(tmp_path: Path, harness_repo: Path) -> None:
    _series(harness_repo)
    code, data = bisect(
        tmp_path,
        harness_repo,
        first_bad_at(5, skip=(1, 2, 3, 4, 5, 6, 7))[0],
        keyword="t",
        series="s8",
    )
    assert code == ExitCode.INFRA and data["status"] == "all-skipped"
    assert data["candidates"] == list(range(1, 9))


def test_command_an_infra_error_raised_is_exit_3(tmp_path: Path, harness_repo: Path) -> None:
    _series(harness_repo)

    def broken(i: int) -> Point:
        raise InfraError("the cache is gone")

    code, data = bisect(tmp_path, harness_repo, broken, keyword="t", series="s8")
    assert code == ExitCode.INFRA and "the cache is gone" in data["error"]


@pytest.mark.parametrize(
    ("kw", "said"),
    [
        ({"keyword": "t", "series": "nope"}, "unknown series"),
        ({"keyword": "  ", "series": "s8"}, "-k TEST is empty"),
        ({"keyword": "t", "series": "s8", "good": 8}, "--good 8"),
        ({"keyword": "t"}, "--series NAME or --mbox FILE"),
    ],
)
def test_command_bad_input(
    tmp_path: Path, harness_repo: Path, kw: dict[str, Any], said: str
) -> None:
    _series(harness_repo)
    code, data = bisect(tmp_path, harness_repo, first_bad_at(5)[0], **kw)
    assert code == ExitCode.USAGE and said in data["error"]


def test_command_bad_mbox(tmp_path: Path, harness_repo: Path) -> None:
    box = tmp_path / "bad.mbox"
    box.write_text("From x\nSubject: hello\n\nnot a patch\n")
    code, data = bisect(tmp_path, harness_repo, first_bad_at(5)[0], keyword="t", mbox=box)
    assert code == ExitCode.USAGE and data["error"]


def test_cli_parses_bisect() -> None:
    from harness.cli import make_parser

    args = make_parser().parse_args(["bisect", "--series", "x", "-k", "t", "--good", "2"])
    assert (args.series, args.keyword, args.good, args.check_base) == ("x", "t", 2, False)
