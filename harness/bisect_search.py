"""`harness bisect`'s search: which patch of p1..pn first makes a test fail.

Point 0 is the base (the dependencies applied), point i the base with p1..pi. The
search knows nothing of kernels: it calls ``test_at(i)`` and reads pass, fail or
skip (a build that broke, a guest that never booted, a test that skipped: treated
as `git bisect skip`, the nearest untested neighbour tried instead)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Point:
    index: int  # 0: the base, i: up to patch i
    outcome: Outcome
    seconds: float = 0.0
    detail: str = ""  # the verdict, or why it was skipped


class Status(StrEnum):
    FOUND = "found"  # first_bad is the first failing patch
    AMBIGUOUS = "ambiguous"  # one of candidates: the points between were skipped
    NOTHING = "nothing"  # the test passes with the whole series
    FAILS_BEFORE = "fails-before"  # --check-base: the test fails on the base already
    UNTESTABLE = "untestable"  # the base (--check-base) or the whole series: skipped
    ALL_SKIPPED = "all-skipped"  # every patch before the last was skipped: one of candidates


@dataclass
class Search:
    total: int  # n, the number of patches
    status: Status = Status.FOUND
    first_bad: int | None = None
    candidates: tuple[int, ...] = ()  # AMBIGUOUS: the first failing patch is one of these
    tested: list[Point] = field(default_factory=list)

    def outcome_of(self, index: int) -> Outcome | None:
        return next((p.outcome for p in self.tested if p.index == index), None)


TestAt = Callable[[int], Point]
Note = Callable[[str], None]


def steps_left(untested: int) -> int:
    """Tests a binary search over this many untested points needs at most."""
    return untested.bit_length()


def _pick(candidates: list[int], good: int, bad: int) -> int:
    """The untested point nearest the middle of (good, bad); the lower on a tie."""
    mid = (good + bad) // 2
    return min(candidates, key=lambda i: (abs(i - mid), i))


def search(
    total: int,
    test_at: TestAt,
    note: Note,
    check_base: bool = False,
    good: int = 0,
    label: Callable[[int], str] = lambda i: f"{i:04d}",
) -> Search:
    """Bisect points good..total: ``good`` passes by assumption (unless check_base and
    good is 0: then it is tested first), ``total`` is tested first and must fail."""
    s = Search(total)

    def run(i: int) -> Point:
        point = test_at(i)
        s.tested.append(point)
        note(
            f"bisect: {label(i)}: {point.outcome.value}"
            + (f" ({point.detail})" if point.detail else "")
        )
        return point

    if check_base and good == 0:
        note("bisect: testing the base (--check-base)")
        base = run(0)
        if base.outcome is Outcome.FAIL:
            s.status = Status.FAILS_BEFORE
            return s
        if base.outcome is Outcome.SKIP:
            s.status = Status.UNTESTABLE
            return s
    note(f"bisect: testing {label(total)} (the whole series) first")
    last = run(total)
    if last.outcome is Outcome.PASS:
        s.status = Status.NOTHING
        return s
    if last.outcome is Outcome.SKIP:
        s.status = Status.UNTESTABLE
        return s
    while True:
        lo = max([good, *(p.index for p in s.tested if p.outcome is Outcome.PASS)])
        hi = min(p.index for p in s.tested if p.outcome is Outcome.FAIL)
        tried = {p.index for p in s.tested}
        untested = [i for i in range(lo + 1, hi) if i not in tried]
        if not untested:
            skipped = [i for i in range(lo + 1, hi) if s.outcome_of(i) is Outcome.SKIP]
            if skipped:
                every = len(skipped) == total - 1 - good
                s.status = Status.ALL_SKIPPED if every else Status.AMBIGUOUS
                s.candidates = (*skipped, hi)
            else:
                s.status, s.first_bad = Status.FOUND, hi
            return s
        i = _pick(untested, lo, hi)
        note(f"bisect: {steps_left(len(untested))} steps left, testing {label(i)}")
        run(i)
