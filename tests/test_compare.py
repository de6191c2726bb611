"""harness.compare: test outcomes by kind of difference, run outcomes, bench ratios;
harness.compare_render: the text tables and the HTML page."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from compare_data import bench_results, run_results
from rich.console import Console

from harness.compare import (
    CHANGED,
    IDENTICAL,
    NEWLY_FAILING,
    NEWLY_PASSING,
    ONLY_IN_A,
    ONLY_IN_B,
    classify,
    compare,
)
from harness.compare_render import print_text, render_html, verdict
from harness.errors import UsageError

A_TESTS = {
    "t::same_pass": "passed",
    "t::same_fail": "failed",
    "t::breaks": "passed",
    "t::breaks_with_error": "skipped",
    "t::fixed": "failed",
    "t::now_skipped": "passed",
    "t::gone": "passed",
}
B_TESTS = {
    "t::same_pass": "passed",
    "t::same_fail": "failed",
    "t::breaks": "failed",
    "t::breaks_with_error": "error",
    "t::fixed": "passed",
    "t::now_skipped": "skipped",
    "t::new": "passed",
}


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        ("pass", "pass", IDENTICAL),
        ("fail", "fail", IDENTICAL),
        ("pass", "fail", NEWLY_FAILING),
        ("skip", "error", NEWLY_FAILING),
        ("fail", "pass", NEWLY_PASSING),
        ("skip", "pass", NEWLY_PASSING),
        ("pass", "skip", CHANGED),
        ("fail", "error", CHANGED),
        ("pass", None, ONLY_IN_A),
        (None, "fail", ONLY_IN_B),
    ],
)
def test_classify(a: str | None, b: str | None, kind: str) -> None:
    assert classify(a, b) == kind


def test_identical_runs_match() -> None:
    data = run_results({"t::a": "passed", "t::b": "skipped"})
    cmp = compare(data, run_results({"t::b": "skipped", "t::a": "passed"}), "A", "B")
    assert cmp.matches()
    assert cmp.counts()[IDENTICAL] == 2
    assert cmp.differences() == []
    assert verdict(cmp) == "SAME: the outcomes match (2 tests)"


def test_each_kind_of_difference() -> None:
    cmp = compare(run_results(A_TESTS), run_results(B_TESTS, exit_code=1), "A", "B")
    groups = {k: [t.name for t in cmp.group(k)] for k in cmp.counts()}
    assert groups[IDENTICAL] == ["t::same_pass", "t::same_fail"]
    assert groups[NEWLY_FAILING] == ["t::breaks", "t::breaks_with_error"]
    assert groups[NEWLY_PASSING] == ["t::fixed"]
    assert groups[CHANGED] == ["t::now_skipped"]
    assert groups[ONLY_IN_A] == ["t::gone"]
    assert groups[ONLY_IN_B] == ["t::new"]
    assert not cmp.matches()
    assert cmp.differences() == [
        "2 newly failing",
        "1 newly passing",
        "1 changed",
        "1 missing in B",
        "1 missing in A",
        "exit code: 0 -> 1",
    ]
    breaks = cmp.group(NEWLY_FAILING)[0]
    assert (breaks.a, breaks.b, breaks.message_b) == ("pass", "fail", "failed: why")


def test_missing_on_one_side_only_differs() -> None:
    a = run_results({"t::a": "passed", "t::b": "passed"})
    b = run_results({"t::a": "passed"})
    cmp = compare(a, b, "A", "B")
    assert not cmp.matches()
    assert cmp.differences() == ["1 missing in B"]
    assert not compare(b, a, "B", "A").matches()


def test_a_splat_alone_is_a_difference() -> None:
    tests = {"t::a": "passed"}
    cmp = compare(run_results(tests), run_results(tests, splats=("WARNING",)), "A", "B")
    assert not cmp.matches()
    assert cmp.differences() == ["kernel splats: none -> WARNING x1"]


def test_context_differences_do_not_decide() -> None:
    a = run_results({"t::a": "passed"})
    b = run_results({"t::a": "passed"})
    b["kernel"]["commit"] = "f" * 40
    b["accel"]["accel"] = "kvm"
    cmp = compare(a, b, "A", "B")
    assert cmp.matches()
    assert {f.what for f in cmp.context if not f.same} == {"kernel commit", "accel"}


def test_the_guest_userspace_is_context() -> None:
    """Host root against a vm-images image: said, not a difference in outcome."""
    a = run_results({"t::a": "passed"}, inputs={"guest_image": None})
    b = run_results({"t::a": "passed"}, inputs={"guest_image": "bookworm-e94ac6490cee"})
    cmp = compare(a, b, "A", "B")
    assert cmp.matches()
    guest = next(f for f in cmp.context if f.what == "guest")
    assert (guest.a, guest.b, guest.same) == ("host root", "bookworm-e94ac6490cee", False)
    old = next(f for f in compare(run_results({}), a, "A", "B").context if f.what == "guest")
    assert old.a == "-"


def test_keyword_from_inputs_or_the_command_line() -> None:
    a = run_results({}, command="harness test --series baseline -k 'redirect or drop'")
    b = run_results({}, inputs={"keyword": "redirect"})
    (k,) = [f for f in compare(a, b, "A", "B").context if f.what == "-k"]
    assert (k.a, k.b) == ("redirect or drop", "redirect")


def test_bench_figures_with_ratios() -> None:
    a = bench_results({"test_run base": 80.0, "pktgen_native off": 2800.0})
    b = bench_results({"test_run base": 80.0, "pktgen_native off": 2828.0}, vmlinux_after=1210)
    cmp = compare(a, b, "A", "B")
    assert cmp.kind == "bench"
    figures = {f.what: f for f in cmp.figures}
    native = figures["icount pktgen_native off median"]
    assert (native.a, native.b, native.unit) == (2800.0, 2828.0, "insn/packet")
    assert native.ratio == pytest.approx(1.01)
    assert figures["icount test_run base min"].ratio == 1.0
    assert figures["size vmlinux after"].ratio == pytest.approx(1.1)
    assert figures["size vmlinux delta"].ratio == pytest.approx(2.1)
    assert figures["invocation"].ratio == 1.0
    assert cmp.matches()  # the figures are shown, the outcomes decide


def test_bench_figure_measured_on_one_side_only() -> None:
    a = bench_results({"test_run base": 80.0, "pktgen_native off": 2800.0})
    b = bench_results({"test_run base": 80.0})
    cmp = compare(a, b, "A", "B")
    missing = cmp.missing_figures()
    assert [f.what for f in missing] == [
        "icount pktgen_native off median",
        "icount pktgen_native off min",
        "icount pktgen_native off max",
    ]
    assert missing[0].ratio is None
    assert not cmp.matches()
    assert cmp.differences() == ["3 figure(s) measured on one side only"]


def test_bench_exit_code_differs() -> None:
    a, b = bench_results({"test_run base": 80.0}), bench_results({"test_run base": 80.0})
    b["exit_code"], b["verdict"] = 1, "SPLAT"
    assert compare(a, b, "A", "B").differences() == ["exit code: 0 -> 1", "verdict: OK -> SPLAT"]


def test_a_run_and_a_bench_do_not_compare() -> None:
    with pytest.raises(UsageError, match="cannot compare a run result"):
        compare(run_results({}), bench_results({}), "A", "B")


def test_not_a_results_json() -> None:
    with pytest.raises(UsageError, match=r"not a results\.json of `harness run`"):
        compare({"hello": 1}, run_results({}), "x.json", "B")


def test_text_tables() -> None:
    cmp = compare(run_results(A_TESTS), run_results(B_TESTS, exit_code=1), "A", "B")
    out = io.StringIO()
    print_text(cmp, Console(file=out, width=200))
    text = out.getvalue()
    assert "newly failing (2)" in text
    assert "missing in A (1)" in text
    assert "t::breaks_with_error" in text
    assert "identical (" not in text  # counted only
    assert text.rstrip().splitlines()[-1].startswith("DIFFERENT: 2 newly failing")
    out = io.StringIO()
    print_text(cmp, Console(file=out, width=200), show_identical=True)
    assert "identical (2)" in out.getvalue()


def test_bench_text_table() -> None:
    a = bench_results({"pktgen_native off": 2800.0})
    b = bench_results({"pktgen_native off": 2828.0})
    out = io.StringIO()
    print_text(compare(a, b, "A", "B"), Console(file=out, width=200))
    assert "icount pktgen_native off median" in out.getvalue()
    assert "1.0100" in out.getvalue()


def test_html_page(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    (tmp_path / "a.png").write_bytes(png)
    a = bench_results({"pktgen_native off": 2800.0})
    b = bench_results({"pktgen_native off": 2828.0})
    page = render_html(compare(a, b, "A<x>", "B"), tmp_path / "a.png", tmp_path / "none.png")
    assert page.startswith("<!DOCTYPE html>")
    assert "A&lt;x&gt;" in page and "A<x>" not in page
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in page
    assert page.count("<img") == 1  # B has no plot
    assert "<td class=num>1.0100</td>" in page

    runs = render_html(compare(run_results(A_TESTS), run_results(B_TESTS), "A", "B"))
    assert "<h3>newly failing (2)</h3>" in runs
    assert "<details><summary>identical (2)</summary>" in runs
    assert '<td class="fail">fail</td>' in runs
    assert "<img" not in runs
