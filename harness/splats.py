"""Find kernel splats in a console log: any of them fails the run."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A kernel console line: "[   12.345678] msg", optionally with a caller id "[    T1] ".
_KLINE = re.compile(r"^\s*\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])?\s?(?P<msg>.*)$")

_CUT_HERE = re.compile(r"-+\[ cut here \]-+")

# (kind, pattern on the message part of a kernel line). Order matters: first match wins.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx))
    for kind, rx in (
        ("KASAN", r"BUG: KASAN: "),
        ("KFENCE", r"BUG: KFENCE: "),
        ("UBSAN", r"UBSAN: "),
        ("soft lockup", r"watchdog: BUG: soft lockup"),
        ("hard lockup", r"Watchdog detected hard LOCKUP"),
        (
            "lockdep",
            r"WARNING: (possible circular locking|possible recursive locking|"
            r"inconsistent lock state|suspicious RCU usage|bad unlock balance|"
            r"held lock freed|lock held when returning|possible irq lock inversion|"
            r".*lock.*detected)",
        ),
        ("RCU stall", r"rcu: INFO: \S+ (self-)?detected stalls?|rcu_\w+ detected stalls"),
        ("hung task", r"INFO: task \S+ blocked for more than \d+ seconds"),
        ("panic", r"Kernel panic - not syncing"),
        ("BUG", r"(?:^|\s)BUG: |kernel BUG at "),
        (
            "Oops",
            r"Oops: |general protection fault|unable to handle (kernel )?(page fault|paging"
            r" request|NULL pointer)",
        ),
        ("WARNING", r"WARNING: CPU: \d+ PID: \d+ at |WARNING: at "),
        ("kmemleak", r"kmemleak: \d+ new suspected memory leaks"),
    )
)


# Reports whose own body carries an "Oops:" line (x86 die() after a BUG).
_OOPS_FOLLOWS = ("BUG", "KASAN", "KFENCE")


@dataclass(frozen=True)
class Splat:
    kind: str
    line: int  # 1-based line in the console log
    text: str  # the matching line and what follows, up to the end of the report
    # the guest whose console it is in, when a run boots several (--jobs): "guest-2",
    # its console <results>/guest-2/console.log; "" for the one guest of a run
    guest: str = ""

    def summary(self) -> str:
        lines = [ln.strip() for ln in self.text.splitlines()]
        head = next((ln for ln in lines if not _CUT_HERE.search(ln)), lines[0])
        where = f"{self.guest}/console.log" if self.guest else "console"
        return f"{self.kind} at {where} line {self.line}: {head}"


# A printk timestamp that landed in the middle of a line: the guest's console
# interleaves kernel messages with the test runner's output.
_MIDLINE = re.compile(r"(?<=\S)\s*(?=\[\s*\d+\.\d{6}\])")


def split_console(console: str) -> tuple[list[str], list[int]]:
    """Console lines with mid-line kernel messages split off, and the 1-based console
    line each piece came from."""
    lines: list[str] = []
    origin: list[int] = []
    for n, raw in enumerate(console.splitlines(), 1):
        for piece in _MIDLINE.split(raw):
            lines.append(piece)
            origin.append(n)
    return lines, origin


def kernel_message(line: str) -> str | None:
    m = _KLINE.match(line)
    return m.group("msg") if m else None


def classify(msg: str) -> str | None:
    for kind, rx in PATTERNS:
        if rx.search(msg):
            return kind
    return None


def scan(console: str, context: int = 40) -> list[Splat]:
    """Every splat in the console, once each. A report runs from its headline (or the
    'cut here' marker before it) to its '---[ end' line, or `context` lines at most."""
    lines, origin = split_console(console)
    found: list[Splat] = []
    i = 0
    while i < len(lines):
        msg = kernel_message(lines[i])
        kind = None if msg is None else classify(msg)
        head = i
        if msg is not None and kind is None and _CUT_HERE.search(msg):
            kind = "WARNING"
            for j in range(i + 1, min(len(lines), i + 4)):
                jm = kernel_message(lines[j])
                if jm is not None:
                    if classify(jm):
                        kind, head = classify(jm) or kind, j
                    break
        if kind is None:
            i += 1
            continue
        end = min(len(lines), i + context)
        for j in range(i + 1, end):
            jm = kernel_message(lines[j])
            if jm is None or j == head:
                continue
            if "---[ end " in jm:
                end = j + 1
                break
            nxt = classify(jm)
            if _CUT_HERE.search(jm) or (nxt and not (nxt == "Oops" and kind in _OOPS_FOLLOWS)):
                end = j  # the next report starts here
                break
        found.append(Splat(kind, origin[i], "\n".join(lines[i:end])))
        i = end
    return found
