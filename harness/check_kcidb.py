"""What `harness check` found, as KCIDB reports it (kcidb.json beside check.json).

One checkout per patch (the base with the posting's patches up to it), one build per
patch (its ``builds`` check), and a test per patch and check (path ``check.<name>``);
the series-level checks on the last patch's build; with --per-patch-tests, the VM
tests of each patch too (path ``vm.<test id>``). Validated with the ``kcidb-io``
package when it is installed (the dev extra)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.check_report import SERIES_ROW, CheckReport, PatchRow
from harness.checks import CheckResult, Status
from harness.report import TestResult

ORIGIN = "xdp_harness"
FILE = "kcidb.json"
# The schema version produced: kcidb_io.schema.LATEST of the pinned kcidb-io (141).
VERSION = {"major": 5, "minor": 3}
_EXCERPT = 16384  # the schema's maxLength of log_excerpt
_SHA1 = re.compile(r"^[0-9a-f]{40}$")

# A check's status, as KCIDB says it; a warning is a pass (its finding in misc).
CHECK_STATUS = {
    Status.PASS: "PASS",
    Status.WARN: "PASS",
    Status.FAIL: "FAIL",
    Status.SKIP: "SKIP",
}
# A VM test's outcome (harness.report): a flaky test passed on its rerun.
TEST_STATUS = {
    "passed": "PASS",
    "flaky": "PASS",
    "failed": "FAIL",
    "error": "ERROR",
    "skipped": "SKIP",
}


@dataclass(frozen=True)
class KcidbInput:
    """What kcidb.json is made of besides the report."""

    start_time: str  # ISO 8601 with a time zone
    patches: Sequence[tuple[int, str, str]] = ()  # (number, the patch's text, Message-ID)
    base_commit: str = ""
    config: Sequence[str] = ()  # the kernel-config fragments
    vm_tests: Mapping[int, Sequence[TestResult]] = field(default_factory=dict)


def kcidb_path(name: str) -> str:
    """A pytest node id as a KCIDB path: dot-separated [A-Za-z0-9_-] components."""
    parts = re.split(r"::|/|\.", name.removesuffix(".py").replace(".py::", "::"))
    clean = [re.sub(r"[^A-Za-z0-9_-]+", "_", p).strip("_") for p in parts]
    return ".".join(p for p in clean if p) or "unnamed"


def patchset_hash(texts: Sequence[str]) -> str:
    """KCIDB's: sha256 over the newline-terminated sha256 of each patch, in order."""
    inner = "".join(hashlib.sha256(t.encode()).hexdigest() + "\n" for t in texts)
    return hashlib.sha256(inner.encode()).hexdigest()


def _excerpt(text: str) -> str:
    text = text.replace("\0", "")
    return text[-_EXCERPT:] if len(text) > _EXCERPT else text


def _by_check(row: PatchRow) -> dict[str, CheckResult]:
    return {r.check: r for r in row.results}


class _Builder:
    def __init__(self, report: CheckReport, given: KcidbInput) -> None:
        self.report = report
        self.given = given
        self.run = f"{ORIGIN}:{report.run_id}"
        self.texts = {n: text for n, text, _ in given.patches}
        self.ids = {n: mid for n, _, mid in given.patches}

    def checkout(self, row: PatchRow) -> dict[str, Any]:
        n = row.number
        co: dict[str, Any] = {
            "id": f"{self.run}:p{n:02d}",
            "origin": ORIGIN,
            "comment": f"{self.report.origin}: patch {n}/{self.report.total} {row.subject}",
            "start_time": self.given.start_time,
            "misc": {"run_id": self.report.run_id, "patch": n, "base": self.report.base},
        }
        if _SHA1.match(self.given.base_commit):
            co["git_commit_hash"] = self.given.base_commit
        texts = [self.texts[i] for i in sorted(self.texts) if i <= n]
        if texts:
            co["patchset_hash"] = patchset_hash(texts)
        mid = self.ids.get(n, "").strip("<>")
        if "@" in mid:
            co["message_id"] = mid
        applies = _by_check(row).get("applies")
        if applies is not None and applies.status in (Status.PASS, Status.FAIL):
            co["valid"] = applies.status is Status.PASS
            if applies.status is Status.FAIL:
                co["log_excerpt"] = _excerpt(applies.log or applies.summary)
        elif applies is not None and "did not apply" in applies.summary:
            co["valid"] = False  # an earlier patch did not apply
        return co

    def build(self, row: PatchRow, checkout_id: str) -> dict[str, Any]:
        built = _by_check(row).get("builds")
        status = "MISS" if built is None else CHECK_STATUS[built.status]
        b: dict[str, Any] = {
            "id": f"{checkout_id}:build",
            "checkout_id": checkout_id,
            "origin": ORIGIN,
            "architecture": "x86_64",
            "config_name": "+".join(["base.config", *self.given.config]),
            "start_time": self.given.start_time,
            "status": status,
            "comment": built.summary if built is not None else "not built",
        }
        if built is not None and built.status is Status.FAIL and built.log:
            b["log_excerpt"] = _excerpt(built.log)
        return b

    def check_test(self, result: CheckResult, build_id: str) -> dict[str, Any]:
        t: dict[str, Any] = {
            "id": f"{build_id}:check.{result.check}",
            "build_id": build_id,
            "origin": ORIGIN,
            "path": kcidb_path(f"check.{result.check}"),
            "status": CHECK_STATUS[result.status],
            "comment": result.summary,
            "start_time": self.given.start_time,
            "misc": {"harness_status": result.status.value},
        }
        if result.status in (Status.FAIL, Status.WARN) and result.log:
            t["log_excerpt"] = _excerpt(result.log)
        return t

    def vm_test(self, result: TestResult, build_id: str) -> dict[str, Any]:
        path = kcidb_path(f"vm.{result.name}")
        t: dict[str, Any] = {
            "id": f"{build_id}:{path}",
            "build_id": build_id,
            "origin": ORIGIN,
            "path": path,
            "status": TEST_STATUS.get(result.outcome, "ERROR"),
            "duration": result.duration,
            "start_time": self.given.start_time,
            "misc": {"node_id": result.name, "outcome": result.outcome},
        }
        if result.outcome == "flaky":
            t["comment"] = "flaky: failed, then passed when rerun in a fresh guest"
            t["misc"]["flaky"] = True
        if result.message:
            t["log_excerpt"] = _excerpt(result.message)
        return t

    def data(self) -> dict[str, Any]:
        checkouts: list[dict[str, Any]] = []
        builds: list[dict[str, Any]] = []
        tests: list[dict[str, Any]] = []
        patches = [row for row in self.report.rows if row.number != SERIES_ROW]
        for row in patches:
            co = self.checkout(row)
            b = self.build(row, co["id"])
            checkouts.append(co)
            builds.append(b)
            tests += [self.check_test(r, b["id"]) for r in row.results]
            seen: set[str] = set()
            for vt in self.given.vm_tests.get(row.number, ()):
                t = self.vm_test(vt, b["id"])
                if t["id"] not in seen:  # two node ids that clean to one path: the first
                    seen.add(t["id"])
                    tests.append(t)
        series = [row for row in self.report.rows if row.number == SERIES_ROW]
        if builds:
            last = builds[-1]["id"]
            for row in series:
                for r in row.results:
                    t = self.check_test(r, last)
                    t["id"] = f"{self.run}:series:check.{r.check}"
                    t["path"] = kcidb_path(f"check.series.{r.check}")
                    tests.append(t)
        else:  # nothing checked (bad input, an error): the run's checkout says why
            checkouts.append(
                {
                    "id": self.run,
                    "origin": ORIGIN,
                    "start_time": self.given.start_time,
                    "comment": f"{self.report.origin}: {self.report.verdict}",
                    "misc": {"run_id": self.report.run_id, "error": self.report.error},
                }
            )
        return {"version": dict(VERSION), "checkouts": checkouts, "builds": builds, "tests": tests}


def build_kcidb(report: CheckReport, given: KcidbInput) -> dict[str, Any]:
    """The KCIDB document of a check run."""
    return _Builder(report, given).data()


def validate(data: dict[str, Any]) -> str | None:
    """Why ``data`` is not valid KCIDB I/O data (None: it is); a note when kcidb-io is
    not installed, so nothing was validated."""
    try:
        from kcidb_io import schema
    except ImportError:
        return "kcidb.json not validated: the kcidb-io package is not installed"
    try:
        schema.LATEST.validate_exactly(data)
    except Exception as exc:  # jsonschema's ValidationError, or the version's
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"kcidb.json does not validate against KCIDB schema {schema.LATEST}: {first}"
    return None


def write(results: Path, report: CheckReport, given: KcidbInput) -> str | None:
    """Write results/kcidb.json; return a note if it was not validated or is invalid."""
    data = build_kcidb(report, given)
    (results / FILE).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return validate(data)
