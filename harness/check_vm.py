"""`harness check --per-patch-tests`: at each patch, the kernel the check just built
booted and the baseline suite run in it, through the pipeline's test stage
(Pipeline.boot_and_test) pointed at that build; the failed tests rerun once in a fresh
guest unless --no-rerun-failures. Each patch's results in vm-<nnnn>/."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness import report
from harness.checks import CheckResult, failed, passed, warned
from harness.errors import ExitCode, HarnessError
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.runner import Runner

NAME = "vm-tests"
SUITE_SERIES = "baseline"  # the series whose suite every patch runs

HostCheck = Callable[[Iterable[str]], None]


def _no_host_check(stages: Iterable[str]) -> None:
    """The check has looked at the host's tools already."""


@dataclass
class PatchTests:
    repo: Path
    cache: CacheLayout
    results: Path  # the check's results directory
    runner: Runner
    key: str  # the check's stack in the cache (its lock held): BPF objects go there
    accel: str = "auto"
    rerun_failures: bool = True
    found: dict[int, list[report.TestResult]] = field(default_factory=dict)

    def run(self, number: int, worktree: Path, build_dir: Path) -> CheckResult:
        """Boot the kernel in build_dir (built from worktree at this patch) and run the
        baseline suite; pass, warn (a flaky test) or fail with the run's verdict."""
        out = self.results / f"vm-{number:04d}"
        opts = Options(
            command="test",
            series=[SUITE_SERIES],
            accel=self.accel,
            jobs=1,
            results_root=self.results,
            rerun_failures=self.rerun_failures,
        )
        p = Pipeline(opts, self.repo, self.cache, results=out, host_check=_no_host_check)
        p.runner = self.runner  # one commands.sh for the whole check
        p.work_key = self.key
        p.open_results()
        try:
            p.boot_and_test(worktree, build_dir)
            code, p.report.verdict = report.verdict(p.report, allow_skips=False)
        except HarnessError as exc:
            code = exc.exit_code
            p.report.error = str(exc)
            p.report.verdict = f"ERROR: {exc.problem.splitlines()[0]}"
        p.report.exit_code = int(code)
        p.report.write(out)
        self.found[number] = list(p.report.tests)
        text = p.report.summary_text(out)
        if code != ExitCode.OK:
            return failed(NAME, p.report.verdict, text)
        if p.report.counts().get("flaky", 0):
            return warned(NAME, p.report.verdict, text)
        return passed(NAME, p.report.verdict, text)
