"""verdict(): tests and splats decide the exit code."""

from __future__ import annotations

from harness.errors import ExitCode
from harness.report import RunReport, verdict
from harness.report import TestResult as Result
from harness.splats import Splat, scan

WARNING_LINE = "[   14.202114] WARNING: CPU: 1 PID: 412 at net/core/dev.c:10 f+0x1/0x2\n"


def _report(*outcomes: str, splat: bool = False) -> RunReport:
    rep = RunReport(run_id="r", command="harness run", series=["s"], suites=["baseline"])
    rep.tests = [Result(f"m::t{i}", o, 0.1) for i, o in enumerate(outcomes)]
    if splat:
        rep.splats = scan(WARNING_LINE)
    return rep


def test_all_passed() -> None:
    assert verdict(_report("passed", "passed"), allow_skips=False) == (
        ExitCode.OK,
        "PASS: 2 tests passed, no splats",
    )


def test_failure_fails() -> None:
    code, text = verdict(_report("passed", "failed"), allow_skips=False)
    assert code == ExitCode.FAILED
    assert int(code) == 1
    assert text == "FAIL: 1 test(s) failed"


def test_errors_count_as_failures() -> None:
    code, text = verdict(_report("error", "failed", "passed"), allow_skips=True)
    assert code == ExitCode.FAILED
    assert text == "FAIL: 2 test(s) failed"


def test_splat_fails_even_if_every_test_passed() -> None:
    code, text = verdict(_report("passed", "passed", splat=True), allow_skips=False)
    assert code == ExitCode.FAILED
    assert text == "FAIL: kernel splat(s): WARNING"


def test_splat_kinds_listed_once_sorted() -> None:
    rep = _report("passed")
    rep.splats = [
        Splat("WARNING", 10, WARNING_LINE),
        Splat("KASAN", 90, "[   15.0] BUG: KASAN: slab-use-after-free in f+0x1/0x2"),
        Splat("WARNING", 200, WARNING_LINE),
    ]
    assert verdict(rep, allow_skips=False)[1] == "FAIL: kernel splat(s): KASAN, WARNING"


def test_skip_fails_unless_allowed() -> None:
    code, text = verdict(_report("passed", "skipped"), allow_skips=False)
    assert code == ExitCode.FAILED
    assert text == "FAIL: 1 test(s) skipped (a skip is not a pass; --allow-skips)"
    assert verdict(_report("passed", "skipped"), allow_skips=True) == (
        ExitCode.OK,
        "PASS: 1 tests passed, no splats",
    )


def test_no_tests_fails() -> None:
    code, text = verdict(_report(), allow_skips=True)
    assert code == ExitCode.FAILED
    assert text == "FAIL: no tests ran"


def test_every_problem_named() -> None:
    code, text = verdict(_report("failed", "skipped", splat=True), allow_skips=False)
    assert code == ExitCode.FAILED
    assert text == (
        "FAIL: 1 test(s) failed; 1 test(s) skipped (a skip is not a pass; --allow-skips); "
        "kernel splat(s): WARNING"
    )


def test_all_skipped_fails_even_when_skips_are_allowed() -> None:
    code, text = verdict(_report("skipped", "skipped"), allow_skips=True)
    assert code == ExitCode.FAILED
    assert text == "FAIL: no test passed"
