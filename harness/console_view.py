"""The live view of a guest's console: a line per test; kernel lines only with
--verbose or when they splat."""

from __future__ import annotations

import re

from harness import splats
from harness.markers import GUEST_DONE, GUEST_START
from harness.ui import progress

PYTEST_LINE = re.compile(
    r"::|^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b|^={3,}|^(FAILED|ERROR) |^E  |^bench: "
    r"|^kselftest/"
)


def echo(line: str, verbose: bool, guest: str = "") -> None:
    """Show one console line (progress, stderr). ``guest``: the guest's name, before
    each of its lines when several run."""
    pad = f"    [{guest}] " if guest else "    "
    pieces, _ = splats.split_console(line)
    for piece in pieces:
        msg = splats.kernel_message(piece)
        if msg is not None:
            if verbose:
                progress(f"{pad}kernel| {piece}")
            elif splats.classify(msg):
                progress(f"{pad}KERNEL| {piece}")
            continue
        if piece.startswith((GUEST_START, GUEST_DONE)) or not piece.strip():
            continue
        if verbose or PYTEST_LINE.search(piece):
            progress(f"{pad}{piece}")
