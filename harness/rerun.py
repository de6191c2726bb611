"""--rerun-failures: the tests that failed, run once more in a fresh guest. One that
passes then is ``flaky`` (not a pass, not a failure: results.json's outcome, junit's
``<flakyFailure>`` as Maven surefire writes it, the verdict's text); one that fails
again stays failed (junit: a ``<rerunFailure>`` beside its ``<failure>``).

Pure functions; the pipeline boots the guest (Pipeline._rerun_failures)."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.report import TestResult
from harness.shards import Unit, unit_of

FAILED = ("failed", "error")
FLAKY = "flaky"
DIR = "rerun"  # the rerun guest's results subdirectory
NOT_RUN = "not run again"


@dataclass(frozen=True)
class Plan:
    """What the fresh guest runs: pytest node ids, and whole kselftests (their KTAP
    results are not selectable one by one)."""

    names: tuple[str, ...]  # the failed tests, as results.json names them
    node_ids: tuple[str, ...]
    kselftests: tuple[str, ...]

    def write(self, directory: Path) -> Path:
        """The guest runner's --units file (node ids go where test files do)."""
        path = directory / "units.json"
        path.write_text(json.dumps({"tests": self.node_ids, "kselftests": self.kselftests}))
        return path


def failed(tests: Iterable[TestResult]) -> list[TestResult]:
    return [t for t in tests if t.outcome in FAILED]


def node_id(name: str, unit: Unit) -> str:
    """pytest's node id of a test of a file unit, from its junit name
    (``selftests.x.test_y::test_z[a]``, or with a class ``selftests.x.test_y.C::t``)."""
    classname, _, test = name.partition("::")
    inner = classname[len(unit.prefix) :].lstrip(".")
    parts = [unit.name, *([p for p in inner.split(".") if p] if inner else []), test]
    return "::".join(parts)


def plan(tests: Iterable[TestResult], units: Sequence[Unit]) -> Plan | None:
    """The rerun of the failed tests among ``tests`` (None: nothing failed). A test of
    no known unit is run again by its name as a node id."""
    bad = failed(tests)
    if not bad:
        return None
    ids: list[str] = []
    ksft: list[str] = []
    for t in bad:
        u = unit_of(t.name, units)
        if u is not None and u.kind == "kselftest":
            ksft.append(u.name)
        elif u is not None:
            ids.append(node_id(t.name, u))
        else:
            ids.append(t.name)
    return Plan(tuple(t.name for t in bad), tuple(dict.fromkeys(ids)), tuple(dict.fromkeys(ksft)))


def merge(
    first: Sequence[TestResult], again: Sequence[TestResult], why_not: str = ""
) -> tuple[list[TestResult], dict[str, str]]:
    """The run's tests with the rerun's outcome folded in: a failed test that passed
    again is flaky; one that failed again, or did not run again, stays as it was.
    Returns (the tests, each rerun test's outcome on the rerun)."""
    by_name = {t.name: t for t in again}
    out: list[TestResult] = []
    outcomes: dict[str, str] = {}
    for t in first:
        if t.outcome not in FAILED:
            out.append(t)
            continue
        r = by_name.get(t.name)
        if r is None:
            outcomes[t.name] = NOT_RUN
            note = f"{NOT_RUN}{': ' + why_not if why_not else ''}"
            out.append(dataclasses.replace(t, message=f"{t.message}\n({note})".strip()))
        elif r.outcome == "passed":
            outcomes[t.name] = r.outcome
            out.append(dataclasses.replace(t, outcome=FLAKY))
        else:
            outcomes[t.name] = r.outcome
            first_line = r.message.splitlines()[0] if r.message else ""
            msg = f"{t.message}\n(failed again in a fresh guest: {first_line})"
            out.append(dataclasses.replace(t, message=msg.strip()))
    return out, outcomes


def _name(case: ET.Element) -> str:
    classname, test = case.get("classname", ""), case.get("name", "")
    return f"{classname}::{test}" if classname else test


def mark_junit(path: Path, outcomes: dict[str, str], again: Path | None) -> None:
    """junit.xml as surefire writes reruns: a flaky test passes with a
    ``<flakyFailure>`` (or ``<flakyError>``) holding its first failure; a test that
    failed again keeps its ``<failure>`` and gets a ``<rerunFailure>``. The suites'
    failures/errors counts follow."""
    tree = ET.parse(path)
    rerun_cases: dict[str, ET.Element] = {}
    if again is not None and again.exists():
        rerun_cases = {_name(c): c for c in ET.parse(again).getroot().iter("testcase")}
    for suite in tree.getroot().iter("testsuite"):
        for case in suite.findall("testcase"):
            outcome = outcomes.get(_name(case))
            el = next((e for e in case if e.tag in ("failure", "error")), None)
            if outcome is None or el is None:
                continue
            if outcome == "passed":
                counter = "failures" if el.tag == "failure" else "errors"
                suite.set(counter, str(max(0, int(suite.get(counter, "1")) - 1)))
                trace = el.text or ""
                el.tag = "flakyFailure" if el.tag == "failure" else "flakyError"
                el.text = None
                ET.SubElement(el, "stackTrace").text = trace
            elif outcome != NOT_RUN:
                second = rerun_cases.get(_name(case))
                found = None if second is None else second.find("failure")
                if found is None and second is not None:
                    found = second.find("error")
                tag = "rerunFailure" if outcome == "failed" else "rerunError"
                attrs = {"message": found.get("message", "")} if found is not None else {}
                rerun = ET.SubElement(case, tag, attrs)
                ET.SubElement(rerun, "stackTrace").text = "" if found is None else found.text
    tree.write(path, encoding="utf-8", xml_declaration=True)
