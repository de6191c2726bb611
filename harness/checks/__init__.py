"""`harness check`: the checks run on each patch of a posting, one module each.

Every check returns a CheckResult: pass, warn or fail (or skip, with the reason), a
one-line summary of what it found and the log it is based on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"

    @property
    def mark(self) -> str:
        """The sign in summary.md and on the terminal."""
        return {"pass": "✓", "warn": "!", "fail": "✗", "skip": "-"}[self.value]


@dataclass(frozen=True)
class CheckResult:
    check: str  # the check's name, e.g. "checkpatch"
    status: Status
    summary: str  # one line: what it found, or why it was skipped
    log: str = ""  # what it is based on: the tool's output, the findings in full

    def to_json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status.value,
            "summary": self.summary,
            "log": self.log,
        }


def passed(check: str, summary: str = "ok", log: str = "") -> CheckResult:
    return CheckResult(check, Status.PASS, summary, log)


def warned(check: str, summary: str, log: str = "") -> CheckResult:
    return CheckResult(check, Status.WARN, summary, log)


def failed(check: str, summary: str, log: str = "") -> CheckResult:
    return CheckResult(check, Status.FAIL, summary, log)


def skipped(check: str, reason: str) -> CheckResult:
    return CheckResult(check, Status.SKIP, reason)


def worst(statuses: list[Status]) -> Status:
    """fail over warn over pass; skip counts as pass (its reason is shown)."""
    for s in (Status.FAIL, Status.WARN):
        if s in statuses:
            return s
    return Status.PASS
