"""The kernel's own selftests the stack lists: tools/testing/selftests/bpf/prog_tests.

Every series.toml lists upstream's XDP prog_tests in ``bpf-selftests`` (a series may
add its own: feature-flags' ``xdp_features``); the harness builds, from the tree
under test, a test_progs with only the stack's union of them and names it in
XDP_SELFTEST_TEST_PROGS. Next to it, tests.json lists each prog_test's test
functions and the subtests its C file starts (``test__start_subtest("derive")``, or
names read from the table a call indexes). This file is in the baseline suite,
which every stack runs: a prog_test that passes on the base kernel and fails on a
series shows up as that series' regression.

test_progs runs once per prog_tests file (``test_progs -a <its tests>``);
``test_prog_test`` checks the whole run: every test and subtest OK, none skipped,
exactly the subtests of the C file. ``test_subtest`` reports each subtest of that
run as a test of its own, so a failing one shows by name.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import testprogs

# Under TCG a prog_test that creates devices and loads programs takes a while.
TIMEOUT = 900
MISSING = (
    f"{testprogs.ENV} is not set: the harness sets it to the test_progs it builds for a "
    'series that lists its prog_tests (series.toml: bpf-selftests = ["xdp_features"]); '
    f"by hand, {testprogs.ENV}=<cache>/stacks/<stack>/build/tools/test_progs/test_progs"
)


def _binary() -> Path | None:
    path = os.environ.get(testprogs.ENV)
    return Path(path) if path else None


def _entries() -> list[testprogs.Entry]:
    binary = _binary()
    if binary is None:
        return []
    try:
        return testprogs.read_manifest(binary.parent / testprogs.MANIFEST)
    except (OSError, ValueError, KeyError):
        return []  # reported by the tests below, not at collection


ENTRIES = _entries()
SUBTESTS = [(e, s) for e in ENTRIES for s in e.subtests]


def _manifest_problem() -> str | None:
    binary = _binary()
    if binary is None:
        return MISSING
    if not binary.is_file():
        return f"{testprogs.ENV}={binary}: no such file"
    if not ENTRIES:
        return (
            f"no readable {testprogs.MANIFEST} listing prog_tests next to {binary}: "
            "rebuild it (harness run --rebuild)"
        )
    return None


class _Runs:
    """test_progs output per prog_tests file: run once, read by every test of it."""

    def __init__(self) -> None:
        self.done: dict[str, tuple[subprocess.CompletedProcess[str], testprogs.Output]] = {}

    def get(
        self, entry: testprogs.Entry
    ) -> tuple[subprocess.CompletedProcess[str], testprogs.Output]:
        if entry.file not in self.done:
            binary = _binary()
            assert binary is not None
            cmd = testprogs.command(binary, entry)
            try:
                # Skeletons embed their objects; objects opened by name are beside it.
                proc = subprocess.run(
                    cmd,
                    cwd=binary.parent,
                    capture_output=True,
                    text=True,
                    timeout=TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raw = exc.stdout or b""
                out = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
                pytest.fail(f"{' '.join(cmd)}: no result after {TIMEOUT}s\n{out}", pytrace=False)
            self.done[entry.file] = (proc, testprogs.parse_output(proc.stdout))
        return self.done[entry.file]


@pytest.fixture(scope="module")
def runs() -> _Runs:
    return _Runs()


def _report(proc: subprocess.CompletedProcess[str]) -> str:
    return (
        f"--- {' '.join(map(str, proc.args))} (exit {proc.returncode}) ---\n"
        f"{proc.stdout}{proc.stderr}"
    )


@pytest.mark.parametrize(
    "entry", ENTRIES or [None], ids=[e.file for e in ENTRIES] or ["test_progs"]
)
def test_prog_test(entry: testprogs.Entry | None, runs: _Runs) -> None:
    """Every test of the prog_tests file OK, every subtest OK, the subtests of its C file."""
    problem = _manifest_problem()
    if problem or entry is None:
        pytest.fail(problem or "no prog_tests", pytrace=False)
    proc, out = runs.get(entry)
    for res in out.results:
        print(res.line)
    found = testprogs.problems(entry, out, proc.returncode)
    if found:
        pytest.fail("\n".join(found) + "\n" + _report(proc), pytrace=False)


# Without a manifest, one failing item says what to fix; prog_tests without any
# subtest get no item here (an empty parametrization would count as a skip).
if SUBTESTS or not ENTRIES:

    @pytest.mark.parametrize(
        ("entry", "subtest"),
        SUBTESTS or [(None, "")],
        ids=[f"{e.file}/{s}" for e, s in SUBTESTS] or ["test_progs"],
    )
    def test_subtest(entry: testprogs.Entry | None, subtest: str, runs: _Runs) -> None:
        """One subtest of a prog_tests file reported OK by test_progs."""
        problem = _manifest_problem()
        if problem or entry is None:
            pytest.fail(problem or "no subtests", pytrace=False)
        proc, out = runs.get(entry)
        mine = [r for r in out.subtests() if r.test in entry.tests and r.subtest == subtest]
        if not mine:
            pytest.fail(f"{entry.file}/{subtest}: did not run\n{_report(proc)}", pytrace=False)
        bad = [r for r in mine if r.outcome != "OK"]
        if bad:
            pytest.fail(
                "\n".join(r.line.strip() for r in bad) + "\n" + _report(proc), pytrace=False
            )
