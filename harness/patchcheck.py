"""Every patch of a series on its own: it builds, and checkpatch --strict is clean."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from harness.runner import Runner
from harness.series import Series

_TOTAL = re.compile(r"total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?\d+ lines checked")


@dataclass(frozen=True)
class CheckpatchResult:
    errors: int
    warnings: int
    checks: int
    report: str  # checkpatch's findings, empty when clean

    @property
    def clean(self) -> bool:
        return not (self.errors or self.warnings or self.checks)


def parse_checkpatch(output: str) -> CheckpatchResult:
    m = _TOTAL.search(output)
    if m is None:
        return CheckpatchResult(1, 0, 0, output.strip() or "checkpatch printed no summary")
    errors, warnings, checks = (int(g) if g else 0 for g in m.groups())
    findings = [
        block.strip()
        for block in output.split("\n\n")
        if block.startswith(("ERROR:", "WARNING:", "CHECK:"))
    ]
    return CheckpatchResult(errors, warnings, checks, "\n\n".join(findings))


def checkpatch(worktree: Path, patch: Path, runner: Runner) -> CheckpatchResult:
    proc = runner.run(
        ["perl", "scripts/checkpatch.pl", "--strict", "--no-color", "--show-types", str(patch)],
        cwd=worktree,
        check=False,
    )
    return parse_checkpatch(proc.stdout + proc.stderr)


@dataclass(frozen=True)
class PatchResult:
    index: int
    patch: str
    subject: str
    built: bool
    build_seconds: float
    build_error: str
    checkpatch: CheckpatchResult

    def line(self) -> str:
        b = f"build ok ({self.build_seconds:.0f}s)" if self.built else "BUILD FAILED"
        c = self.checkpatch
        cp = "clean" if c.clean else f"{c.errors} errors, {c.warnings} warnings, {c.checks} checks"
        return f"  {self.index:04d} {self.subject[:60]:60}  {b}; checkpatch {cp}"


def truncated(series: Series, n: int) -> Series:
    """The series with only its first n patches."""
    return dataclasses.replace(series, patches=series.patches[:n])
