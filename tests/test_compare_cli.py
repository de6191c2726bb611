"""`harness compare A B`: exit 0 when the outcomes match, 1 when they differ, 2 for
what is not results; the HTML page beside B or in --out; bundles accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compare_data import bench_results, run_results, write_results

from harness import bundle
from harness.cli import main
from harness.compare_render import HTML_NAME


@pytest.fixture(autouse=True)
def _anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # compare needs no harness checkout


def test_same_outcomes_exit_0_page_beside_b(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_results(tmp_path / "a", run_results({"t::a": "passed"}))
    b = write_results(tmp_path / "b", run_results({"t::a": "passed"}))
    assert main(["compare", str(a), str(b / "results.json")]) == 0
    out = capsys.readouterr()
    assert "SAME: the outcomes match (1 tests)" in out.out
    assert f"wrote {b / HTML_NAME}" in out.err
    assert "SAME" in (b / HTML_NAME).read_text()


def test_different_outcomes_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_results(tmp_path / "a", run_results({"t::a": "passed"}))
    b = write_results(tmp_path / "b", run_results({"t::a": "failed"}, exit_code=1))
    out_dir = tmp_path / "report"
    assert main(["compare", str(a), str(b), "--out", str(out_dir)]) == 1
    assert "DIFFERENT: 1 newly failing; exit code: 0 -> 1" in capsys.readouterr().out
    assert (out_dir / HTML_NAME).is_file()
    assert not (b / HTML_NAME).exists()


def test_bench_with_its_plot(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", bench_results({"test_run base": 80.0}))
    b = write_results(tmp_path / "b", bench_results({"test_run base": 81.0}))
    (b / "bench.png").write_bytes(b"\x89PNG fake")
    assert main(["compare", str(a), str(b)]) == 0
    assert "data:image/png;base64," in (b / HTML_NAME).read_text()


def test_bundles_compare(tmp_path: Path, harness_repo: Path) -> None:
    a = write_results(tmp_path / "results" / "run-a", run_results({"t::a": "passed"}))
    b = write_results(tmp_path / "results" / "run-b", run_results({"t::a": "skipped"}))
    ba, bb = bundle.write(a, harness_repo), bundle.write(b, harness_repo)
    assert main(["compare", str(ba), str(bb)]) == 1
    assert (bb.parent / HTML_NAME).is_file()  # beside B's bundle


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d, "no such file or directory"),
        (lambda d: (d.mkdir(), d)[1], "not a results directory: no results.json in it"),
        (
            lambda d: (write_results(d, {}), (d / "results.json").write_text("{"), d)[2],
            "is not valid JSON (line 1, column 2",
        ),
        (lambda d: write_results(d, {"x": 1}), "is not a results.json of `harness run`"),
        (
            lambda d: (d.mkdir(), (d / "r.txt").write_text("x"), d / "r.txt")[2],
            "neither a results directory, a .json nor a bundle",
        ),
    ],
)
def test_bad_input_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    good = write_results(tmp_path / "good", run_results({"t::a": "passed"}))
    bad = make(tmp_path / "bad")  # type: ignore[operator]
    assert main(["compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "fix: " in err and "give a results directory" in err


def test_run_against_bench_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_results(tmp_path / "a", run_results({}))
    b = write_results(tmp_path / "b", bench_results({}))
    assert main(["compare", str(a), str(b)]) == 2
    assert "cannot compare a run result" in capsys.readouterr().err


def test_unwritable_page_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_results(tmp_path / "a", run_results({"t::a": "passed"}))
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["compare", str(a), str(a), "--out", str(blocker / "sub")]) == 2
    assert "pass --out DIR, a writable directory" in capsys.readouterr().err


def test_results_json_is_read_not_written(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", run_results({"t::a": "passed"}))
    before = (a / "results.json").read_text()
    main(["compare", str(a), str(a)])
    assert json.loads((a / "results.json").read_text()) == json.loads(before)
