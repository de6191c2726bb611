"""Checks of the posting as a whole: a cover letter when there is more than one
patch, a subject prefix naming the tree the series is for."""

from __future__ import annotations

from harness.checks import CheckResult, failed, passed, skipped, warned
from harness.mbox import TREES, Posting

COVER = "cover-letter"
TREE = "tree"


def check_cover(posting: Posting, from_range: bool = False) -> CheckResult:
    n = len(posting.patches)
    if from_range:
        return skipped(COVER, "a git range has no cover letter")
    if posting.cover is not None:
        return passed(COVER, f"0/{n}: {posting.cover.title}")
    if n == 1:
        return passed(COVER, "one patch: no cover letter needed")
    return failed(
        COVER,
        f"{n} patches without a cover letter (0/{n})",
        "git format-patch --cover-letter: say what the series does and why, as a whole",
    )


def check_tree(posting: Posting, from_range: bool = False) -> CheckResult:
    if from_range:
        return skipped(TREE, "a git range has no subject prefix")
    words = posting.prefix_words
    named = [w for w in words if w in TREES]
    if named:
        return passed(TREE, f"for {named[0]}")
    return warned(
        TREE,
        f"subject prefix [{' '.join(words)}] names no tree ({', '.join(TREES)})",
        "git format-patch --subject-prefix='PATCH net-next' (or bpf-next, net, bpf)",
    )
