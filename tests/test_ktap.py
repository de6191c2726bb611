"""KTAP output of kselftests: results, directives, nesting, plans, crashes."""

from __future__ import annotations

from textwrap import dedent

from harness import ktap


def parse(text: str) -> ktap.Output:
    return ktap.parse(dedent(text).strip("\n").splitlines())


def outcomes(out: ktap.Output) -> list[tuple[str, str]]:
    return [(r.name, r.outcome) for r in out.results]


def test_net_lib_py_output() -> None:
    """What net/lib/py's ksft_run prints: ok, not ok, SKIP and XFAIL, then totals."""
    out = parse(
        """
        KTAP version 1
        1..4
        ok 1 nl_netdev.empty_check
        # Check| At nl_netdev.py, line 17, in lo_check:
        # Check failed 1 != 0
        not ok 2 nl_netdev.lo_check
        ok 3 nl_netdev.page_pool_check # SKIP netdevsim has no page pool
        ok 4 stats.check_fec # XFAIL FEC not supported by the device
        # Totals: pass:1 fail:1 xfail:1 xpass:0 skip:1 error:0
        """
    )
    assert outcomes(out) == [
        ("nl_netdev.empty_check", "passed"),
        ("nl_netdev.lo_check", "failed"),
        ("nl_netdev.page_pool_check", "skipped"),
        ("stats.check_fec", "xfail"),
    ]
    assert out.plan == 4
    assert out.seen
    assert out.problems == ()
    assert out.bail_out is None
    lo = out.results[1]
    assert lo.number == 2
    assert not lo.ok
    assert lo.output == (
        "# Check| At nl_netdev.py, line 17, in lo_check:",
        "# Check failed 1 != 0",
    )
    assert lo.line == "not ok 2 nl_netdev.lo_check"
    skip = out.results[2]
    assert (skip.directive, skip.reason) == ("SKIP", "netdevsim has no page pool")
    assert (out.results[3].directive, out.results[3].reason) == (
        "XFAIL",
        "FEC not supported by the device",
    )


def test_kselftest_h_forms() -> None:
    """TAP version 13, results without a description, "not ok ... # SKIP", TODO,
    TIMEOUT and a plain comment."""
    out = parse(
        """
        TAP version 13
        1..6
        ok 1 # SKIP no such device
        not ok 2 - dashed description # SKIP skipped all the same
        not ok 3 known bug # TODO fix it
        not ok 4 selftests: net: x.sh # TIMEOUT 45 seconds
        ok 5 plain # just a comment
        ok 6 xpass # XPASS
        """
    )
    assert outcomes(out) == [
        ("1", "skipped"),
        ("dashed description", "skipped"),
        ("known bug", "xfail"),
        ("selftests: net: x.sh", "failed"),
        ("plain", "passed"),
        ("xpass", "passed"),
    ]
    assert out.results[4].directive == ""
    assert out.results[4].reason == "just a comment"
    assert out.results[3].reason == "45 seconds"


def test_nested_results_are_named_after_their_parent() -> None:
    out = parse(
        """
        KTAP version 1
        1..2
            KTAP version 1
            # Subtest: offload
            1..2
            ok 1 first
            not ok 2 second
        not ok 1 offload
                    deep output that is not KTAP
            KTAP version 1
            1..1
                KTAP version 1
                1..1
                ok 1 leaf
            ok 1 middle
        ok 2 outer
        """
    )
    assert outcomes(out) == [
        ("offload/first", "passed"),
        ("offload/second", "failed"),
        ("offload", "failed"),
        ("outer/middle/leaf", "passed"),
        ("outer/middle", "passed"),
        ("outer", "passed"),
    ]
    assert [r.depth for r in out.results] == [1, 1, 0, 2, 1, 0]
    assert [r.name for r in out.top_level()] == ["offload", "outer"]
    assert out.plan == 2
    assert out.problems == ()


def test_missing_plan() -> None:
    """No "1..N": the results still count; nothing tells how many were meant."""
    out = parse(
        """
        ok 1 a
        not ok 2 b
        """
    )
    assert outcomes(out) == [("a", "passed"), ("b", "failed")]
    assert out.plan is None
    assert out.seen


def test_plan_at_the_end() -> None:
    out = parse(
        """
        KTAP version 1
        ok 1 a
        ok 2 b
        1..2
        """
    )
    assert out.plan == 2
    assert len(out.results) == 2


def test_crash_inside_a_nested_test() -> None:
    """The output ends in a nested block: its results are kept, named after its
    header, and that its own result line never came is a problem."""
    out = parse(
        """
        KTAP version 1
        1..3
        ok 1 first
            # Subtest: second
            KTAP version 1
            1..3
            ok 1 a
        Segmentation fault (core dumped)
        """
    )
    assert outcomes(out) == [("first", "passed"), ("second/a", "passed")]
    assert out.plan == 3
    assert len(out.top_level()) == 1
    assert "subtest 'second' has no result line of its own (did it crash?)" in out.problems
    assert "subtest 'second' planned 3 results, reported 1" in out.problems


def test_nested_block_short_of_its_plan() -> None:
    out = parse(
        """
        1..1
            1..2
            ok 1 a
        ok 1 parent
        """
    )
    assert outcomes(out) == [("parent/a", "passed"), ("parent", "passed")]
    assert out.problems == ("a nested test planned 2 results, reported 1",)


def test_no_ktap_at_all() -> None:
    out = parse(
        """
        Traceback (most recent call last):
          File "x.py", line 1, in <module>
        ModuleNotFoundError: No module named 'yaml'
        """
    )
    assert out.results == ()
    assert not out.seen
    assert out.plan is None


def test_bail_out() -> None:
    out = parse(
        """
        KTAP version 1
        1..2
        ok 1 a
        Bail out! no netdevsim
        """
    )
    assert out.bail_out == "no netdevsim"
    assert len(out.results) == 1


def test_repeated_names_are_made_unique() -> None:
    out = parse(
        """
        1..4
        ok 1 same
        ok 2 same
        ok 3 same
        ok 4 other
        """
    )
    assert [r.name for r in out.results] == ["same", "same #2", "same #3", "other"]


def test_lines_that_only_look_like_ktap_in_diagnostics() -> None:
    """A "# ok 1 x" diagnostic or an "okay" line is not a result."""
    out = parse(
        """
        1..1
        # ok 1 inner, as run_kselftest.sh prefixes it
        okay 2 not a result
        ok 1 real
        """
    )
    assert [r.name for r in out.results] == ["real"]
    assert out.results[0].index == 3
