"""test_progs' output read, the manifest written and read, a run judged (no VM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.testprogs import (
    Entry,
    Output,
    Result,
    Summary,
    command,
    parse_output,
    problems,
    read_manifest,
    write_manifest,
)

ENTRY = Entry(
    "xdp_features", ("xdp_features",), ("derive", "attach", "tail_call_lock", "dev_bound_load")
)

# What test_progs prints (TEST_NUM_WIDTH 7: the numbers are padded).
PASS = """\
#1/1     xdp_features/derive:OK
#1/2     xdp_features/attach:OK
#1/3     xdp_features/tail_call_lock:OK
#1/4     xdp_features/dev_bound_load:OK
#1       xdp_features:OK
Summary: 1/4 PASSED, 0 SKIPPED, 0 FAILED
"""

FAIL = """\
test_attach:PASS:set_features basic 0 nsec
test_attach:FAIL:enforced native attach unexpected enforced native attach: actual 0 != expected -95
#1/1     xdp_features/derive:OK
#1/2     xdp_features/attach:FAIL
#1/3     xdp_features/tail_call_lock:OK
#1/4     xdp_features/dev_bound_load:OK
#1       xdp_features:FAIL

All error logs:
#1/2     xdp_features/attach:FAIL
Summary: 0/3 PASSED, 0 SKIPPED, 1 FAILED
"""


def _with(lines: str) -> Output:
    return parse_output(lines)


def test_parse_passing_run() -> None:
    out = parse_output(PASS)
    assert [r.name for r in out.results] == [
        "xdp_features/derive",
        "xdp_features/attach",
        "xdp_features/tail_call_lock",
        "xdp_features/dev_bound_load",
        "xdp_features",
    ]
    assert {r.outcome for r in out.results} == {"OK"}
    assert out.summary == Summary(passed=1, subtests=4, skipped=0, failed=0)
    assert [r.subtest for r in out.subtests("xdp_features")] == list(ENTRY.subtests)
    assert out.tests() == [Result("xdp_features", None, "OK", "#1       xdp_features:OK")]


def test_parse_failing_run_skips_logs_and_their_repeats() -> None:
    out = parse_output(FAIL)
    # "All error logs:" repeats the failed subtest's line: read once
    outcomes = [(r.name, r.outcome) for r in out.results]
    assert len(outcomes) == 5
    assert outcomes[1] == ("xdp_features/attach", "FAIL")
    assert outcomes[4] == ("xdp_features", "FAIL")
    assert not any("test_attach" in r.line for r in out.results)
    assert out.summary == Summary(0, 3, 0, 1)


def test_parse_skips_and_partial_skips() -> None:
    out = parse_output(
        "#3/1    t/a:SKIP\n#3/2    t/b:OK\n#3       t:OK (SKIP: 1/2)\n#4       u:SKIP\n"
    )
    assert [(r.name, r.outcome, r.skipped_subtests) for r in out.results] == [
        ("t/a", "SKIP", 0),
        ("t/b", "OK", 0),
        ("t", "OK", 1),
        ("u", "SKIP", 0),
    ]


def test_parse_verbose_start_lines_without_result_ignored() -> None:
    out = parse_output("#1/1     xdp_features/derive\nsome log\n#1/1     xdp_features/derive:OK\n")
    assert [(r.name, r.outcome) for r in out.results] == [("xdp_features/derive", "OK")]


def test_parse_subtest_names_with_spaces_and_colons() -> None:
    out = parse_output("#2/1     t/case a:b:OK\n")
    assert out.results[0].subtest == "case a:b"


def test_parse_nothing() -> None:
    out = parse_output("WARNING! Selftests relying on bpf_testmod.ko will be skipped.\n")
    assert out.results == ()
    assert out.summary is None


def test_command_runs_exactly_the_tests_of_a_file(tmp_path: Path) -> None:
    entry = Entry("f", ("a", "b"), ())
    assert command(tmp_path / "test_progs", entry) == [str(tmp_path / "test_progs"), "-a", "a,b"]


def test_manifest_round_trip(tmp_path: Path) -> None:
    entries = [ENTRY, Entry("other", ("x", "y"), (), dynamic_subtests=True)]
    write_manifest(tmp_path / "tests.json", entries)
    assert read_manifest(tmp_path / "tests.json") == entries


def test_no_problems_when_all_passed() -> None:
    assert problems(ENTRY, parse_output(PASS), 0) == []


def test_failed_subtest_and_test_reported() -> None:
    found = problems(ENTRY, parse_output(FAIL), 1)
    assert found == [
        "xdp_features: #1       xdp_features:FAIL",
        "xdp_features/attach: FAIL (#1/2     xdp_features/attach:FAIL)",
    ]


def test_skipped_test_is_a_problem() -> None:
    found = problems(ENTRY, parse_output("#1       xdp_features:SKIP\n"), 0)
    assert found[0] == "xdp_features: #1       xdp_features:SKIP"
    assert "0 subtests reported [], expected 4" in found[1]


def test_skipped_subtest_is_a_problem() -> None:
    text = PASS.replace("attach:OK", "attach:SKIP").replace(
        "xdp_features:OK", "xdp_features:OK (SKIP: 1/4)"
    )
    found = problems(ENTRY, parse_output(text), 0)
    assert "xdp_features: #1       xdp_features:OK (SKIP: 1/4)" in found
    assert any(p.startswith("xdp_features/attach: SKIP") for p in found)


def test_missing_subtest_named_with_the_count() -> None:
    text = "".join(ln + "\n" for ln in PASS.splitlines() if "dev_bound_load" not in ln)
    found = problems(ENTRY, parse_output(text), 0)
    assert found == [
        "xdp_features: 3 subtests reported ['derive', 'attach', 'tail_call_lock'], expected 4 "
        "['derive', 'attach', 'tail_call_lock', 'dev_bound_load'] "
        "(from prog_tests/xdp_features.c)"
    ]


def test_unexpected_extra_subtest() -> None:
    text = "#1/5     xdp_features/extra:OK\n" + PASS
    assert any("5 subtests reported" in p for p in problems(ENTRY, parse_output(text), 0))


def test_dynamic_subtests_only_need_the_literal_ones() -> None:
    entry = Entry("f", ("f",), ("fixed",), dynamic_subtests=True)
    ok = "#1/1 f/fixed:OK\n#1/2 f/computed_1:OK\n#1 f:OK\n"
    assert problems(entry, parse_output(ok), 0) == []
    missing = "#1/1 f/computed_1:OK\n#1 f:OK\n"
    assert problems(entry, parse_output(missing), 0) == [
        "f: subtests ['fixed'] (in the C file) did not run"
    ]


def test_test_without_result_line() -> None:
    found = problems(ENTRY, parse_output("#1/1     xdp_features/derive:OK\n"), -11)
    assert found[0].startswith("xdp_features: no result line from test_progs")


def test_other_tests_lines_ignored() -> None:
    text = PASS + "#2/1     other/x:FAIL\n#2       other:FAIL\n"
    assert problems(ENTRY, parse_output(text), 0) == []


@pytest.mark.parametrize("code", [1, 255])
def test_nonzero_exit_with_clean_output_is_a_problem(code: int) -> None:
    assert problems(ENTRY, parse_output(PASS), code) == [f"test_progs exited {code}"]
