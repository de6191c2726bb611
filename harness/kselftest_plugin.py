"""In the guest: the stack's kselftests as pytest tests, each KTAP result a test of its own.

harness.guest loads this plugin into the one pytest run of the guest when the stack
lists kselftests (series.toml ``kselftests = ["net:nl_netdev.py"]``). Each listed test
is an item ``kselftest/<collection>/<test>`` (after the suites' tests; ``-k`` selects
it like any other test). Running it runs the file from the kernel tree under test, in
its collection's directory as run_kselftest.sh does, with a timeout
(harness.kselftests.timeout); its output goes to
``<results>/kselftests/<collection>/<test>.log``. Its KTAP results (harness.ktap) are
then reported one by one as ``kselftest/<collection>/<test>::<result name>``: passed,
failed, skipped (a skip fails the run unless --allow-skips, like a pytest skip) or, for
an XFAIL, passed; so junit.xml and results.json get each of them. The item itself
fails when the process as a whole went wrong: killed at the timeout or by a signal,
a nonzero exit without KTAP results (or one they do not explain), fewer results than
its plan; a test without KTAP passes or skips on its exit status (0, 4) as in
kselftest.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from harness import kselftests, ktap
from harness.kselftests import Kselftest

LOG_DIR = "kselftests"  # under the results directory
LOG_HEADER = 2  # lines of the log before the test's output
TAIL = 40  # output lines in a failure's message


@dataclass(frozen=True)
class Run:
    """One kselftest process: its output line by line, when each line came."""

    command: tuple[str, ...]
    lines: tuple[str, ...]
    times: tuple[float, ...]  # seconds from the start, per line
    returncode: int | None  # None: killed at the timeout
    seconds: float
    timeout: float
    log: Path


def kselftest_env(python: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a kselftest: this interpreter's directory first on PATH (a
    script's ``python3`` is then the harness's, with PyYAML), Python output unbuffered
    (each line timed, nothing lost in a crash), no bytecode written into the tree."""
    env = dict(os.environ if environ is None else environ)
    bindir = str(Path(python).parent)
    env["PATH"] = os.pathsep.join(
        [bindir, *(p for p in env.get("PATH", "").split(os.pathsep) if p)]
    )
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_test(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], timeout_s: float, log: Path
) -> Run:
    """Run cmd in a session of its own, stdout and stderr together into the log as
    they come; at the timeout, and after it exits (what it left running), kill the
    whole session."""
    log.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    times: list[float] = []
    lock = threading.Lock()
    start = time.monotonic()
    with log.open("w") as f:
        f.write(f"# {shlex.join(cmd)}\n# cwd {cwd}; timeout {timeout_s:.0f}s\n")  # LOG_HEADER
        f.flush()
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def read() -> None:
            assert proc.stdout is not None
            with contextlib.suppress(OSError, ValueError):
                for raw in proc.stdout:
                    line = raw.decode(errors="replace").rstrip("\n")
                    with lock:
                        if f.closed:
                            return
                        lines.append(line)
                        times.append(time.monotonic() - start)
                        f.write(line + "\n")
                        f.flush()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        returncode: int | None
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            returncode = None
        _kill_group(proc.pid)
        proc.wait()
        reader.join(timeout=10)  # a daemon that left the session may hold the pipe
        seconds = time.monotonic() - start
        with lock:
            status = "killed at the timeout" if returncode is None else f"exit {returncode}"
            f.write(f"# {status} after {seconds:.1f}s\n")
            f.close()
            return Run(tuple(cmd), tuple(lines), tuple(times), returncode, seconds, timeout_s, log)


def _last(lines: Sequence[str]) -> str:
    """The last line that says something: what a summary line quotes."""
    return next((ln.strip() for ln in reversed(lines) if ln.strip()), "")


def _tail(lines: Sequence[str], n: int = TAIL) -> str:
    cut = len(lines) - n
    head = [f"[... {cut} lines before ...]"] if cut > 0 else []
    return "\n".join([*head, *lines[-n:]])


class KselftestItem(pytest.Item):
    """One listed kselftest: runs it, reports each of its KTAP results as a test."""

    def __init__(self, *, test: Kselftest, tree: Path, logdir: Path, **kw: Any) -> None:
        super().__init__(**kw)
        self.test = test
        self.file = test.path(tree)
        self.logdir = logdir

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # the domain heads its failure in the terminal: collection:test
        return self.file, None, self.test.name

    def runtest(self) -> None:
        log = self.logdir / self.test.collection / f"{self.test.test}.log"
        try:
            cmd = kselftests.command(self.file, sys.executable)
            run = run_test(
                cmd,
                self.file.parent,
                kselftest_env(sys.executable),
                kselftests.timeout(self.file.parent),
                log,
            )
        except (OSError, ValueError) as exc:
            pytest.fail(f"{self.test.name}: cannot run {self.file}: {exc}", pytrace=False)
        out = ktap.parse(list(run.lines))
        previous = 0.0
        for res in out.results:
            at = run.times[res.index]
            self._report(res, at - previous, run)
            previous = at
        problem = kselftests.process_problem(out, run.returncode, run.timeout)
        last = _last(run.lines)
        if problem:
            pytest.fail(
                f"{self.test.name}: {problem}"
                + (f"; its last line: {last}" if last else "")
                + f"\n--- {shlex.join(run.command)}: the last lines "
                f"(all of them in {run.log}) ---\n{_tail(run.lines)}",
                pytrace=False,
            )
        if kselftests.no_ktap_skip(out, run.returncode):
            said = f": {last}" if last else ""
            pytest.skip(f"exited {run.returncode} (KSFT_SKIP) without KTAP results{said}")

    def _report(self, res: ktap.Result, duration: float, run: Run) -> None:
        """One KTAP result as a test report of its own (junit.xml, the terminal)."""
        outcome: Literal["passed", "failed", "skipped"] = "failed"
        if res.outcome in ("passed", "xfail"):
            outcome = "passed"
        elif res.outcome == "skipped":
            outcome = "skipped"
        longrepr: tuple[str, int, str] | str | None = None
        if outcome == "skipped":  # where: the line of the log that says SKIP
            why = f"Skipped: {res.reason or res.line.strip()}"
            longrepr = (str(run.log), LOG_HEADER + res.index + 1, why)
        elif outcome == "failed":
            last = _last([ln for ln in res.output if ln.strip() not in ("#", "# Exception|")])
            longrepr = (
                res.line.strip()
                + (f"  <- {last}" if last else "")
                + f"\n{_tail(res.output)}\n(the whole output of {self.test.name}: {run.log})"
            )
        now = time.time()
        report = pytest.TestReport(
            nodeid=f"{self.nodeid}::{res.name}",
            location=(self.location[0], None, f"{self.test.name}::{res.name}"),
            keywords={res.name: 1, **dict.fromkeys(self.keywords, 1)},
            outcome=outcome,
            longrepr=longrepr,
            when="call",
            duration=duration,
            start=now - duration,
            stop=now,
            ktap_directive=res.directive,
        )
        # Outside the item's output capture: the live view shows a line per result.
        capman = self.config.pluginmanager.getplugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
            self.ihook.pytest_runtest_logreport(report=report)
        # ... which must not count as one more collected test in the "[ 85%]" column
        terminal = self.config.pluginmanager.getplugin("terminalreporter")
        reported = getattr(terminal, "_progress_nodeids_reported", None)
        if isinstance(reported, set):
            reported.discard(report.nodeid)


class Plugin:
    """Adds an item per kselftest after the suites' tests (before -k deselects)."""

    def __init__(self, tests: Sequence[Kselftest], tree: Path, logdir: Path) -> None:
        self.tests = list(tests)
        self.tree = tree
        self.logdir = logdir

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        for test in self.tests:
            items.append(
                KselftestItem.from_parent(
                    session,
                    name=test.test_id,
                    nodeid=test.test_id,
                    path=session.path,  # only the repo's conftests apply, not the tree's
                    test=test,
                    tree=self.tree,
                    logdir=self.logdir,
                )
            )

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        """An XFAIL result passes; the verbose line says XFAIL all the same."""
        directive = getattr(report, "ktap_directive", "")
        if report.when == "call" and report.passed and directive in ktap.EXPECTED_FAILURES:
            return "passed", "x", (f"PASSED (KTAP {directive})", {"green": True})
        return None
