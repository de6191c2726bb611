"""What a patch's diff touches: files, and the lines it removes and adds per file."""

from __future__ import annotations

import re

_DIFF_GIT = re.compile(r"^diff --git a/(\S+) b/(\S+)$")
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def changed_lines(diff: str) -> dict[str, list[str]]:
    """Per file (its path after the patch), the removed and added lines in order, each
    with its - or +. Hunks are read by their line counts: the `-- ` of a signature
    after the last one is not a removed line."""
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    old = new = 0
    for line in diff.splitlines():
        if old > 0 or new > 0:
            if line.startswith("\\"):
                continue
            if line.startswith("-"):
                old -= 1
            elif line.startswith("+"):
                new -= 1
            else:
                old, new = old - 1, new - 1
            if current is not None and line[:1] in ("+", "-"):
                current.append(line)
            continue
        m = _DIFF_GIT.match(line)
        if m:
            current = files.setdefault(m.group(2), [])
            continue
        h = _HUNK.match(line)
        if h and current is not None:
            old = int(h.group(1) or "1")
            new = int(h.group(2) or "1")
    return files


def touched_files(diff: str) -> list[str]:
    return list(changed_lines(diff))


def deleted_files(diff: str) -> list[str]:
    """Files the patch deletes (`deleted file mode`)."""
    deleted: list[str] = []
    current: str | None = None
    for line in diff.splitlines():
        m = _DIFF_GIT.match(line)
        if m:
            current = m.group(2)
        elif current and line.startswith("deleted file mode"):
            deleted.append(current)
    return deleted
