"""Fixes: tags: the form (12+ hex chars, ("subject") quoted), not a patch earlier in
the same posting (fold the fix into it instead), and with a base that has history
(--kernel-tree), that the commit exists with exactly that subject."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from harness.checks import CheckResult, failed, passed

NAME = "fixes"
_FIXES = re.compile(r"^Fixes:(.*)$", re.M | re.I)
_FORM = re.compile(r'^ ([0-9a-f]{12,40}) \("(.+)"\)$')

# The subject of a commit of the base, None when the base does not have it.
History = Callable[[str], str | None]


def check_fixes(
    message: str, history: History | None, earlier: Mapping[str, int] | None = None
) -> CheckResult:
    """``message``: the commit message. ``history``: None when the base has no history
    (Debian's tarball): then only the form is checked, and the result says so.
    ``earlier``: the titles of the posting's patches before this one, with their
    numbers: a tag naming one of them fails (the fix belongs in that patch)."""
    tags = [m.group(0) for m in _FIXES.finditer(message)]
    if not tags:
        return passed(NAME, "no Fixes: tag")
    problems: list[str] = []
    for tag in tags:
        m = _FORM.match(tag[len("Fixes:") :])
        if m is None or not tag.startswith("Fixes:"):
            problems.append(
                f"{tag!r}: want 'Fixes: <12+ hex chars of the commit> (\"<its subject>\")'"
            )
            continue
        sha, subject = m.groups()
        if earlier and subject in earlier:
            problems.append(
                f"{tag!r}: fixes patch {earlier[subject]} of this posting: fold the fix into it "
                "(a series should not add a bug and fix it)"
            )
            continue
        if history is None:
            continue
        found = history(sha)
        if found is None:
            problems.append(f"{tag!r}: commit {sha} is not in the base tree's history")
        elif found != subject:
            problems.append(f"{tag!r}: commit {sha} is {found!r}")
    log = "\n".join(tags + ([""] if problems else []) + problems)
    if problems:
        return failed(NAME, "; ".join(problems), log)
    if history is None:
        return passed(NAME, f"{len(tags)} tag(s), format only: base has no history", log)
    return passed(NAME, f"{len(tags)} tag(s), commits and subjects found in the base", log)
