"""`harness bisect`'s report: bisect.json, bisect.md and the table on the terminal."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.bisect_search import Outcome, Search, Status


@dataclass(frozen=True)
class PatchInfo:
    index: int
    subject: str
    file: str


@dataclass
class BisectReport:
    run_id: str
    name: str  # the series or the mbox
    keyword: str
    patches: list[PatchInfo] = field(default_factory=list)
    search: Search | None = None
    good: int = 0
    check_base: bool = False
    notes: list[str] = field(default_factory=list)
    error: str = ""
    exit_code: int = 0
    verdict: str = ""

    def _patch(self, i: int) -> PatchInfo | None:
        return next((p for p in self.patches if p.index == i), None)

    def name_of(self, i: int) -> str:
        if i == 0:
            return "(base)"
        p = self._patch(i)
        return f"{i:04d} {p.subject}" if p else f"{i:04d}"

    def decide(self) -> None:
        s = self.search
        if self.error or s is None:
            self.verdict = f"ERROR: {self.error.splitlines()[0] if self.error else 'no search'}"
            return
        if s.status is Status.FOUND and s.first_bad is not None:
            self.verdict = f"FIRST FAILING: {self.name_of(s.first_bad)}"
        elif s.status is Status.AMBIGUOUS:
            names = ", ".join(f"{i:04d}" for i in s.candidates)
            self.verdict = f"AMBIGUOUS: the first failing patch is one of {names} (skips between)"
        elif s.status is Status.ALL_SKIPPED:
            names = ", ".join(f"{i:04d}" for i in s.candidates)
            self.verdict = (
                f"ERROR: every patch before the last was skipped (build broken, no boot, "
                f"skipped test): the first failing patch is one of {names}"
            )
        elif s.status is Status.NOTHING:
            self.verdict = "PASS: passes with the whole series: nothing to bisect"
        elif s.status is Status.FAILS_BEFORE:
            self.verdict = "FAIL: fails before the series (on the base with its dependencies)"
        else:
            where = "the base" if s.outcome_of(0) is Outcome.SKIP else "the whole series"
            self.verdict = f"ERROR: could not test at {where}: nothing to bisect against"

    def to_json(self) -> dict[str, object]:
        s = self.search
        first = self._patch(s.first_bad) if s and s.first_bad is not None else None
        return {
            "run_id": self.run_id,
            "name": self.name,
            "keyword": self.keyword,
            "good": self.good,
            "check_base": self.check_base,
            "status": s.status.value if s else None,
            "first_bad": first.__dict__ if first else None,
            "candidates": list(s.candidates) if s else [],
            "tested": [
                {
                    "index": p.index,
                    "patch": self.name_of(p.index),
                    "outcome": p.outcome.value,
                    "seconds": round(p.seconds, 1),
                    "detail": p.detail,
                }
                for p in (s.tested if s else [])
            ],
            "patches": [p.__dict__ for p in self.patches],
            "notes": self.notes,
            "error": self.error,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
        }

    def markdown(self) -> str:
        lines = [
            f"# bisect {self.name}: -k {self.keyword}",
            "",
            "| order | point | outcome | time | detail |",
            "|---|---|---|---|---|",
        ]
        for n, p in enumerate(self.search.tested if self.search else [], 1):
            detail = p.detail.replace("|", "\\|")
            point, took = self.name_of(p.index), f"{p.seconds:.0f}s"
            lines.append(f"| {n} | {point} | {p.outcome.value} | {took} | {detail} |")
        lines += ["", *(f"note: {n}" for n in self.notes), "", f"**{self.verdict}**", ""]
        return "\n".join(lines)

    def write(self, results: Path) -> None:
        (results / "bisect.json").write_text(json.dumps(self.to_json(), indent=2) + "\n")
        (results / "bisect.md").write_text(self.markdown())

    def table(self) -> Table:
        t = Table(title=f"bisect {self.name}: -k {self.keyword}")
        for col in ("#", "point", "outcome", "time", "detail"):
            t.add_column(col)
        marks = {Outcome.PASS: "✓ pass", Outcome.FAIL: "✗ fail", Outcome.SKIP: "- skip"}
        for n, p in enumerate(self.search.tested if self.search else [], 1):
            t.add_row(
                str(n), self.name_of(p.index), marks[p.outcome], f"{p.seconds:.0f}s", p.detail
            )
        return t

    def print(self, results: Path) -> None:
        width = None if sys.stdout.isatty() else 160
        console = Console(file=sys.stdout, highlight=False, width=width)
        if self.search and self.search.tested:
            console.print(self.table())
        s = self.search
        first = self._patch(s.first_bad) if s and s.first_bad is not None else None
        if first is not None:
            console.print(f"  first failing patch: {first.file}", markup=False)
        for n in self.notes:
            console.print(f"  note: {n}", markup=False)
        if self.error:
            console.print(f"  error: {self.error}", markup=False)
        console.print(f"  results {results}", markup=False)
        console.print(f"{self.verdict} (exit {self.exit_code})", markup=False)
