"""test_progs' output, and the manifest of a test_progs built with only some prog_tests.

Shared by the host (harness.bpf_selftests writes the manifest) and the guest (the
selftests read it, run test_progs and check its output): standard library only,
cheap to import under TCG.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST = "tests.json"
ENV = "XDP_SELFTEST_TEST_PROGS"  # the test_progs binary, as the guest sees it

# "#12     xdp_features:OK", "#12 name:OK (SKIP: 1/4)", "#12 name:FAIL", "#12 name:SKIP"
_TEST_RE = re.compile(
    r"^#(?P<num>\d+)\s+(?P<test>[A-Za-z0-9_]+):"
    r"(?P<outcome>OK|FAIL|SKIP)(?: \(SKIP: (?P<skipped>\d+)/(?P<of>\d+)\))?\s*$"
)
# "#12/3   xdp_features/tail_call_lock:OK"; a subtest name may hold spaces or colons
_SUBTEST_RE = re.compile(
    r"^#(?P<num>\d+)/(?P<sub>\d+)\s+(?P<test>[A-Za-z0-9_]+)/(?P<subtest>.*):"
    r"(?P<outcome>OK|FAIL|SKIP)\s*$"
)
ERROR_LOGS = "All error logs:"
_SUMMARY_RE = re.compile(
    r"^Summary: (?P<passed>\d+)/(?P<subtests>\d+) PASSED, (?P<skipped>\d+) SKIPPED, "
    r"(?P<failed>\d+) FAILED\s*$"
)


@dataclass(frozen=True)
class Result:
    """One result line of test_progs: a test, or one of its subtests."""

    test: str
    subtest: str | None
    outcome: str  # OK | FAIL | SKIP
    line: str
    skipped_subtests: int = 0  # "OK (SKIP: n/m)": the test passed with n subtests skipped

    @property
    def name(self) -> str:
        return self.test if self.subtest is None else f"{self.test}/{self.subtest}"


@dataclass(frozen=True)
class Summary:
    """test_progs' last line: "Summary: <tests>/<subtests> PASSED, n SKIPPED, n FAILED"."""

    passed: int
    subtests: int
    skipped: int
    failed: int


@dataclass(frozen=True)
class Output:
    results: tuple[Result, ...]
    summary: Summary | None

    def tests(self) -> list[Result]:
        return [r for r in self.results if r.subtest is None]

    def subtests(self, test: str | None = None) -> list[Result]:
        return [r for r in self.results if r.subtest is not None and test in (None, r.test)]


def parse_output(text: str) -> Output:
    """The result lines of test_progs' stdout (in order, each once) and its summary.

    With -v a subtest's name is printed when it starts as well, without a result:
    only lines with a result count. After a failure, "All error logs:" repeats the
    failed tests' logs and result lines: those are not read again."""
    results: list[Result] = []
    summary: Summary | None = None
    repeats = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line == ERROR_LOGS:
            repeats = True
        m = _SUMMARY_RE.match(line)
        if m:
            summary = Summary(*(int(m[k]) for k in ("passed", "subtests", "skipped", "failed")))
        if repeats:
            continue
        m = _SUBTEST_RE.match(line)
        if m:
            results.append(Result(m["test"], m["subtest"], m["outcome"], line))
            continue
        m = _TEST_RE.match(line)
        if m:
            skipped = int(m["skipped"]) if m["skipped"] else 0
            results.append(Result(m["test"], None, m["outcome"], line, skipped))
    return Output(tuple(results), summary)


@dataclass(frozen=True)
class Entry:
    """One listed prog_test: tools/testing/selftests/bpf/prog_tests/<file>.c."""

    file: str
    tests: tuple[str, ...]  # its test_<name>() / serial_test_<name>() functions
    subtests: tuple[str, ...]  # test__start_subtest("<name>") literals, in source order
    # some test__start_subtest() calls take a computed name: only the literal
    # names are known, more may run
    dynamic_subtests: bool = False


def write_manifest(path: Path, entries: list[Entry]) -> None:
    path.write_text(json.dumps({"prog_tests": [asdict(e) for e in entries]}, indent=2) + "\n")


def read_manifest(path: Path) -> list[Entry]:
    data = json.loads(path.read_text())
    return [
        Entry(
            file=str(e["file"]),
            tests=tuple(str(t) for t in e["tests"]),
            subtests=tuple(str(s) for s in e["subtests"]),
            dynamic_subtests=bool(e.get("dynamic_subtests", False)),
        )
        for e in data["prog_tests"]
    ]


def command(binary: str | Path, entry: Entry) -> list[str]:
    """Run exactly the tests of one prog_tests file (-a: exact names, not substrings)."""
    return [str(binary), "-a", ",".join(entry.tests)]


def problems(entry: Entry, out: Output, returncode: int) -> list[str]:
    """Everything wrong with one prog_tests file's run; empty when it all passed.

    Every test must report OK without skipped subtests; every subtest OK (none FAIL
    or SKIP); the subtests reported must be the ones its C file starts, each once."""
    found: list[str] = []
    reported = {r.test: r for r in out.tests()}
    for test in entry.tests:
        res = reported.get(test)
        if res is None:
            found.append(f"{test}: no result line from test_progs (crashed, or not built in?)")
        elif res.outcome != "OK" or res.skipped_subtests:
            found.append(f"{test}: {res.line.strip()}")
    for res in out.subtests():
        if res.test in entry.tests and res.outcome != "OK":
            found.append(f"{res.name}: {res.outcome} ({res.line.strip()})")
    names = [r.subtest for r in out.subtests() if r.test in entry.tests]
    if entry.dynamic_subtests:
        missing = [s for s in entry.subtests if s not in names]
        if missing:
            found.append(f"{entry.file}: subtests {missing} (in the C file) did not run")
    elif sorted(n or "" for n in names) != sorted(entry.subtests):
        found.append(
            f"{entry.file}: {len(names)} subtests reported {names}, expected "
            f"{len(entry.subtests)} {list(entry.subtests)} (from prog_tests/{entry.file}.c)"
        )
    if returncode != 0 and not found:
        found.append(f"test_progs exited {returncode}")
    return found
