"""pytest's own exit status in the guest, where it says more than "some tests failed".

pytest exits 0 (passed), 1 (tests failed), 2 (interrupted, or errors while collecting:
those are in junit.xml as errors), 3 (internal error), 4 (usage error: a bad -k
expression, an unknown option), 5 (no tests collected). Tests decide 0, 1 and 2 (the
verdict); 3 and 4 are not about the kernel at all, and 5 after a -k is a request that
matched nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.errors import HarnessError, InfraError, UsageError

INTERNAL_ERROR = 3
USAGE_ERROR = 4
NO_TESTS_COLLECTED = 5

# What pytest prints about a usage or internal error (on stderr; the console has it).
_ERROR_LINE = re.compile(r"^(?:ERROR: |INTERNALERROR> |[\w.-]+: error: )")


def error_lines(console: str, limit: int = 10) -> list[str]:
    """pytest's error lines in the console, the last ``limit`` of them."""
    lines = [ln.rstrip("\r") for ln in console.splitlines()]
    return [ln for ln in lines if _ERROR_LINE.match(ln)][-limit:]


def pytest_error(
    pytest_exit: int | None, keyword: str | None, console: str, console_path: Path
) -> HarnessError | None:
    """The error a pytest exit status stands for, or None when the tests decide."""
    said = "".join(f"\n{ln}" for ln in error_lines(console))
    if pytest_exit == USAGE_ERROR:
        return UsageError(
            f"pytest in the guest refused its arguments (pytest exit 4, usage error){said}",
            "check -k EXPR (pytest's -k syntax: names, and/or/not, parentheses)",
        )
    if pytest_exit == INTERNAL_ERROR:
        return InfraError(
            f"pytest in the guest failed with an internal error (pytest exit 3){said}",
            f"read {console_path}",
        )
    if pytest_exit == NO_TESTS_COLLECTED and keyword:
        return UsageError(
            f"-k {keyword!r} selected no tests (pytest exit 5)",
            "test names are <file>::<test>; `harness list` shows the suites of a series",
        )
    return None
