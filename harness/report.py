"""Results people and CI can read: results.json, junit.xml, a short summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.errors import ExitCode
from harness.splats import Splat


@dataclass(frozen=True)
class TestResult:
    name: str
    outcome: str  # passed | failed | error | skipped | flaky (failed, then passed rerun)
    duration: float
    message: str = ""


def parse_junit(path: Path) -> list[TestResult]:
    root = ET.parse(path).getroot()
    results = []
    for case in root.iter("testcase"):
        classname, test = case.get("classname", ""), case.get("name")
        # a test outside any module (a kselftest: kselftest/net/x.py) has no classname
        name = f"{classname}::{test}" if classname else f"{test}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (el.get("message") or el.text or "").strip()
                break
        results.append(TestResult(name, outcome, float(case.get("time") or 0.0), message))
    return results


@dataclass(frozen=True)
class GuestReport:
    """One of the guests of a run that booted several (--jobs): what it ran, how it went."""

    name: str  # guest-1: its results subdirectory
    units: list[str]  # test files and kselftests
    estimate: float  # seconds expected (harness.shards)
    boot_seconds: float | None  # until its test runner started
    tests_seconds: float | None  # from then until it ended
    pytest_exit: int | None
    tests: int  # results in its junit.xml
    problem: str = ""  # why it failed as a whole: hung and killed, died, pytest's own error

    def line(self) -> str:
        boot = "?" if self.boot_seconds is None else f"{self.boot_seconds:.1f}s"
        ran = "?" if self.tests_seconds is None else f"{self.tests_seconds:.1f}s"
        text = (
            f"{self.name}  {len(self.units)} units (~{self.estimate:.0f}s), boot {boot}, "
            f"tests {ran}, {self.tests} results, pytest exit {self.pytest_exit}"
        )
        first = self.problem.splitlines()[0] if self.problem else ""
        return text + (f"; {first[:160]}" if first else "")


@dataclass
class RunReport:
    run_id: str
    command: str
    series: list[str]
    suites: list[str]
    kernel: dict[str, str] = field(default_factory=dict)  # version, base, origin, commit, ...
    config_hash: str = ""
    accel: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    tests: list[TestResult] = field(default_factory=list)
    splats: list[Splat] = field(default_factory=list)
    guests: list[GuestReport] = field(default_factory=list)  # when several booted (--jobs)
    # what the run was asked to test, for `harness reproduce` (harness.inputs)
    inputs: dict[str, object] = field(default_factory=dict)
    # --rerun-failures: each failed test's outcome in the fresh guest (harness.rerun)
    reruns: dict[str, str] = field(default_factory=dict)
    exit_code: int = int(ExitCode.OK)
    verdict: str = ""
    error: str = ""

    def counts(self) -> dict[str, int]:
        # "flaky" only when there is one (--rerun-failures): results.json as before
        c = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for t in self.tests:
            c[t.outcome] = c.get(t.outcome, 0) + 1
        return c

    def to_json(self) -> str:
        data = asdict(self)
        data["counts"] = self.counts()
        data["splats"] = [
            {"kind": s.kind, "console_line": s.line, "summary": s.summary(), "text": s.text}
            | ({"guest": s.guest} if s.guest else {})
            for s in self.splats
        ]
        if not self.guests:
            del data["guests"]  # one guest: as before --jobs
        if not self.inputs:
            del data["inputs"]
        if not self.reruns:
            del data["reruns"]
        return json.dumps(data, indent=2)

    def write(self, results_dir: Path) -> None:
        (results_dir / "results.json").write_text(self.to_json())
        (results_dir / "summary.txt").write_text(self.summary_text(results_dir) + "\n")

    def summary_text(self, results_dir: Path) -> str:
        c = self.counts()
        lines = [f"run {self.run_id}: {' + '.join(self.series)}"]
        if self.kernel:
            k = self.kernel
            lines.append(
                f"  kernel   {k.get('version', '?')} from {k.get('origin', '?')}"
                f", commit {k.get('commit', '?')[:12]}, config {self.config_hash}"
            )
        if self.accel:
            lines.append(f"  accel    {self.accel.get('accel')} ({self.accel.get('reason')})")
        if self.inputs and self.accel:  # a guest was planned (not for `harness build`)
            image = self.inputs.get("guest_image")
            lines.append(
                f"  guest    image {image} (vm-images)" if image else "  guest    the host's root"
            )
        if self.timings:
            lines.append(
                "  timings  " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
            )
        if self.guests:
            lines.append(f"  guests   {len(self.guests)} side by side")
            lines += [f"    {g.line()}" for g in self.guests]
        flaky = c.get("flaky", 0)
        if self.tests:
            lines.append(
                f"  tests    {c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
                f"{c['skipped']} skipped" + (f", {flaky} flaky" if flaky else "")
            )
        if self.reruns:
            lines.append(
                f"  rerun    {len(self.reruns)} failed test(s) run again in a fresh guest: "
                f"{flaky} passed (flaky), {len(self.reruns) - flaky} did not"
            )
        for t in self.tests:
            if t.outcome != "passed":
                first = t.message.splitlines()[0] if t.message else ""
                lines.append(f"    {t.outcome.upper():7} {t.name}  {first[:160]}")
        for s in self.splats:
            lines.append(f"  SPLAT    {s.summary()}")
        if self.error:
            lines.append("  error    " + self.error.replace("\n", "\n           "))
        lines.append(f"  results  {results_dir}")
        lines.append(f"{self.verdict} (exit {self.exit_code})")
        return "\n".join(lines)


def verdict(report: RunReport, allow_skips: bool) -> tuple[ExitCode, str]:
    """Tests and splats decide: any failure, error, splat (or skip, unless allowed) fails."""
    c = report.counts()
    problems = []
    if c["failed"] or c["error"]:
        problems.append(f"{c['failed'] + c['error']} test(s) failed")
    if c["skipped"] and not allow_skips:
        problems.append(f"{c['skipped']} test(s) skipped (a skip is not a pass; --allow-skips)")
    if report.splats:
        kinds = sorted({s.kind for s in report.splats})
        problems.append(f"kernel splat(s): {', '.join(kinds)}")
    if not report.tests:
        problems.append("no tests ran")
    elif not c["passed"] and not c.get("flaky", 0) and not problems:
        problems.append("no test passed")
    # a flaky test (failed, then passed in a fresh guest) is said, and fails nothing
    n = c.get("flaky", 0)
    flaky = [f"{n} flaky (failed, then passed when run again in a fresh guest)"] if n else []
    if problems:
        return ExitCode.FAILED, "FAIL: " + "; ".join([*problems, *flaky])
    return ExitCode.OK, ", ".join([f"PASS: {c['passed']} tests passed", *flaky, "no splats"])
