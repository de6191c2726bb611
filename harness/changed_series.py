"""Which series a change to patches/ asks CI to check: those whose directory it
touches, and those that depend on them (their patches go on top). Used by
ci/check-changed-series.sh:

    git diff --name-only BASE...HEAD -- patches/ | python -m harness.changed_series

prints the series to check, one a line, in catalog order; what is left out (removed,
no patches) goes to stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from harness.errors import HarnessError
from harness.paths import find_repo
from harness.series import Catalog, resolve


def touched(paths: Iterable[str]) -> list[str]:
    """The series directories (patches/<name>/...) among the changed paths."""
    names = []
    for p in paths:
        parts = p.strip().split("/")
        if len(parts) >= 3 and parts[0] == "patches" and parts[1]:
            names.append(parts[1])
    return list(dict.fromkeys(names))


def to_check(paths: Iterable[str], repo: Path) -> tuple[list[str], list[str]]:
    """(the series to check, notes on those that are not)."""
    catalog = Catalog(repo)
    changed = touched(paths)
    notes = [f"{n}: removed, nothing to check" for n in changed if n not in catalog]
    wanted: list[str] = []
    for name in catalog:
        try:
            stack = {s.name for s in resolve([name], catalog)}
        except HarnessError:  # a bad manifest: check it if it changed (exit 2, named)
            if name in changed:
                wanted.append(name)
            continue
        hit = sorted(stack & set(changed))
        if not hit:
            continue
        if not catalog[name].patches:
            notes.append(f"{name}: no patches, nothing to check")
            continue
        wanted.append(name)
        if name not in changed:
            notes.append(f"{name}: depends on {', '.join(hit)}")
    return wanted, notes


def main() -> int:
    names, notes = to_check(sys.stdin.read().splitlines(), find_repo())
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    for n in names:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
