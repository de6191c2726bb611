"""This repository's own series: every one runs what the base kernel runs.

A test that passes on the baseline and fails on a series is a regression only if
the series runs it too: each series runs the baseline suite (where
test_bpf_selftests.py lives) and lists the baseline's bpf-selftests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.series import Series, bpf_selftests, load_all, resolve, selftest_suites

REPO = Path(__file__).resolve().parent.parent
KNOWN = load_all(REPO)
OTHERS = sorted(n for n in KNOWN if n != "baseline")


def test_the_baseline_runs_upstream_xdp_prog_tests_from_its_suite() -> None:
    base = KNOWN["baseline"]
    assert "xdp_attach" in base.bpf_selftests
    runners = [p.parent.name for p in REPO.glob("selftests/*/test_bpf_selftests.py")]
    assert runners == ["baseline"]  # one copy: a stack runs each prog_test once


@pytest.mark.parametrize("name", OTHERS)
def test_every_series_runs_what_the_baseline_runs(name: str) -> None:
    series: Series = KNOWN[name]
    assert "baseline" in series.selftests
    missing = [t for t in KNOWN["baseline"].bpf_selftests if t not in series.bpf_selftests]
    assert missing == [], f"{name}/series.toml: bpf-selftests lacks {missing}"


def test_every_series_stacked_builds_and_runs_each_prog_test_once() -> None:
    stack = resolve(sorted(KNOWN), KNOWN)
    names = bpf_selftests(stack)
    assert len(names) == len(set(names))
    assert set(names) == {t for s in KNOWN.values() for t in s.bpf_selftests}
    assert selftest_suites(stack).count("baseline") == 1
