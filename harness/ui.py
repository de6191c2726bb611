"""Where the harness talks: progress and warnings on stderr, results on stdout.

`harness run ... > summary.txt` keeps only what the run found (the summary and its
verdict, check-patches' per-patch lines, bench's table); stage headers, live test
lines, build progress, notes and warnings go to stderr.
"""

from __future__ import annotations

import sys


def progress(message: str = "") -> None:
    """A line about what the harness is doing."""
    print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """Something the user should know that does not stop the run."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def result(message: str = "") -> None:
    """What a command found: summaries, verdicts, tables."""
    print(message, flush=True)
