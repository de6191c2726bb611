"""What `harness check` found: check.json, junit.xml, summary.md (a reply to the
posting) and the table on the terminal."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.checks import CheckResult, Status, worst
from harness.errors import ExitCode

SERIES_ROW = 0  # the row of the series-level checks
_LOG_LINES = 25  # of each finding's log in summary.md


@dataclass
class PatchRow:
    number: int  # 0: the series as a whole
    subject: str
    author: str = ""
    results: list[CheckResult] = field(default_factory=list)
    given_tags: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "series" if self.number == SERIES_ROW else str(self.number)

    def status(self) -> Status:
        return worst([r.status for r in self.results])


@dataclass
class CheckReport:
    run_id: str
    origin: str
    total: int  # patches in the posting
    base: str = ""
    mode: str = ""  # what ran: every check, or --no-build's
    notes: list[str] = field(default_factory=list)
    allow: dict[str, str] = field(default_factory=dict)
    rows: list[PatchRow] = field(default_factory=list)
    exit_code: int = int(ExitCode.OK)
    verdict: str = ""
    error: str = ""

    def checks(self) -> list[str]:
        """Every per-patch check's name, in the order of the rows: the table's columns
        (the series-level checks are a line below it)."""
        return list(
            dict.fromkeys(
                r.check for row in self.rows if row.number != SERIES_ROW for r in row.results
            )
        )

    def series_line(self) -> str:
        return "; ".join(
            f"{r.check} {r.status.mark} {r.summary}"
            for row in self.rows
            if row.number == SERIES_ROW
            for r in row.results
        )

    def decide(self) -> None:
        fails = [
            f"{row.label}: {r.check}"
            for row in self.rows
            for r in row.results
            if r.status is Status.FAIL
        ]
        warns = sum(r.status is Status.WARN for row in self.rows for r in row.results)
        if self.error:
            self.verdict = f"ERROR: {self.error.splitlines()[0]}"
        elif fails:
            self.exit_code = int(ExitCode.FAILED)
            self.verdict = f"FAIL: {len(fails)} check(s) failed ({', '.join(fails[:8])})"
        else:
            self.exit_code = int(ExitCode.OK)
            self.verdict = f"PASS: {self.total} patch(es), {warns} warning(s)"

    def to_json(self) -> str:
        data = {
            "run_id": self.run_id,
            "origin": self.origin,
            "patches": self.total,
            "base": self.base,
            "mode": self.mode,
            "notes": self.notes,
            "checkpatch_allow": self.allow,
            "rows": [
                {
                    "patch": row.number,
                    "subject": row.subject,
                    "author": row.author,
                    "status": row.status().value,
                    "given_tags": list(row.given_tags),
                    "checks": [r.to_json() for r in row.results],
                }
                for row in self.rows
            ],
            "exit_code": self.exit_code,
            "verdict": self.verdict,
            "error": self.error,
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    def junit(self) -> ET.Element:
        """A testcase per patch and check: a fail is a failure, a skip skipped, a
        warning passes with its finding in system-out."""
        suite = ET.Element("testsuite", {"name": f"harness check {self.origin}"})
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for row in self.rows:
            classname = (
                "series" if row.number == SERIES_ROW else f"patch{row.number:02d}.{row.subject}"
            )
            for r in row.results:
                counts["tests"] += 1
                case = ET.SubElement(suite, "testcase", {"classname": classname, "name": r.check})
                if r.status is Status.FAIL:
                    counts["failures"] += 1
                    ET.SubElement(case, "failure", {"message": r.summary}).text = r.log
                elif r.status is Status.SKIP:
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", {"message": r.summary})
                elif r.status is Status.WARN or r.log:
                    out = f"{r.status.value.upper()}: {r.summary}\n{r.log}".strip()
                    ET.SubElement(case, "system-out").text = out
        suite.attrib.update({k: str(v) for k, v in counts.items()})
        suite.set("errors", "0")
        return suite

    def summary_md(self) -> str:
        checks = self.checks()
        out = [f"## harness check: {self.origin}", ""]
        out.append(f"{self.total} patch(es); base: {self.base or '?'}; {self.mode}")
        out += [f"- {n}" for n in self.notes]
        out += ["", "| patch | " + " | ".join(checks) + " |"]
        out.append("|---|" + "---|" * len(checks))
        for row in self.rows:
            if row.number == SERIES_ROW:
                continue
            by = {r.check: r for r in row.results}
            marks = [by[c].status.mark if c in by else "" for c in checks]
            subject = row.subject.replace("|", "\\|")
            out.append(f"| {row.label} {subject} | " + " | ".join(marks) + " |")
        out += ["", "✓ pass, ! warning, ✗ fail, - skipped", ""]
        if self.series_line():
            out += [f"series: {self.series_line()}", ""]
        findings = [
            (row, r)
            for row in self.rows
            for r in row.results
            if r.status in (Status.FAIL, Status.WARN)
        ]
        if findings:
            out += ["### Findings", ""]
            for row, r in findings:
                out.append(f"**{row.label} {row.subject}**: {r.check} {r.status.mark} {r.summary}")
                if r.log.strip():
                    lines = r.log.strip().splitlines()
                    more = len(lines) - _LOG_LINES
                    shown = lines[:_LOG_LINES] + ([f"... ({more} more lines)"] if more > 0 else [])
                    out += ["", "```", *shown, "```"]
                out.append("")
        skips = sorted(
            {
                f"{r.check}: {r.summary}"
                for row in self.rows
                for r in row.results
                if r.status is Status.SKIP
            }
        )
        if skips:
            out += ["### Skipped", "", *[f"- {s}" for s in skips], ""]
        if self.allow:
            out += ["### checkpatch types allowed for this series", ""]
            out += [f"- {t}: {why}" for t, why in sorted(self.allow.items())]
            out.append("")
        tagged = [row for row in self.rows if row.given_tags]
        if tagged:
            out += ["### Tags given in replies", ""]
            out += [f"- {row.label} {row.subject}: {', '.join(row.given_tags)}" for row in tagged]
            out.append("")
        if self.error:
            out += ["### Error", "", "```", self.error, "```", ""]
        out.append(f"**{self.verdict}** (exit {self.exit_code})")
        return "\n".join(out) + "\n"

    def write(self, results: Path) -> None:
        (results / "check.json").write_text(self.to_json() + "\n")
        ET.ElementTree(self.junit()).write(
            results / "junit.xml", encoding="utf-8", xml_declaration=True
        )
        (results / "summary.md").write_text(self.summary_md())

    def table(self) -> Table:
        checks = self.checks()
        table = Table(title=f"harness check: {self.origin}", show_lines=False)
        table.add_column("patch", no_wrap=True)
        table.add_column("subject", overflow="ellipsis", max_width=44, no_wrap=True)
        style = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
        for c in checks:
            table.add_column(c, justify="center")
        for row in self.rows:
            if row.number == SERIES_ROW:
                continue
            by = {r.check: r for r in row.results}
            cells = [
                f"[{style[by[c].status.value]}]{by[c].status.mark}[/]" if c in by else ""
                for c in checks
            ]
            table.add_row(row.label, row.subject, *cells)
        return table

    def print(self, results: Path) -> None:
        """The table and the findings, on stdout."""
        width = None if sys.stdout.isatty() else 160
        console = Console(file=sys.stdout, highlight=False, width=width)
        if self.rows:
            console.print(self.table())
        if self.series_line():
            console.print(f"  series: {self.series_line()}", markup=False)
        for row in self.rows:
            for r in row.results:
                if r.status in (Status.FAIL, Status.WARN):
                    console.print(
                        f"  {row.label} {r.check} {r.status.mark} {r.summary}", markup=False
                    )
        for n in self.notes:
            console.print(f"  note: {n}", markup=False)
        console.print(f"  results {results}", markup=False)
        console.print(f"{self.verdict} (exit {self.exit_code})", markup=False)
