"""`harness bisect`: the first patch of a series (or a posting) at which a test fails.

Each point tested is the base with the dependencies and the patches up to it, applied
in the cache's bisect stack (`stacks/bisect`, git am from the last common patch),
built incrementally in its build directory and booted through the pipeline's test
stage with `-k TEST` (the suites of the series' stack). The search: harness.bisect_search."""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness import apply, build, hostdeps, locks, report, source
from harness.bisect_report import BisectReport, PatchInfo
from harness.bisect_search import Outcome, Point, Search, Status, TestAt, search
from harness.check_intake import CheckOptions, Intake, take
from harness.errors import BrokenBuild, ExitCode, HarnessError, InfraError, UsageError, unexpected
from harness.patchcheck import truncated
from harness.paths import CacheLayout, new_results_dir, point_latest, run_stamp
from harness.pipeline import Options, Pipeline
from harness.runner import Runner
from harness.series import Catalog, Series
from harness.ui import progress

HostCheck = Callable[[Iterable[str]], None]
STACK = "bisect"  # the cache's stack directory the points are built in
DEFAULT_SUITE = "baseline"  # an mbox on no series of this repo runs this suite


@dataclass(frozen=True)
class BisectOptions:
    keyword: str
    series: str | None = None
    mbox: Path | None = None
    depends_on: tuple[str, ...] = ()
    kernel_tree: Path | None = None
    good: int = 0  # patches 1..good are known good (0: only the base)
    check_base: bool = False
    accel: str = "auto"
    timeout: float | None = None
    results_root: Path | None = None


def _no_host_check(stages: Iterable[str]) -> None:
    """Bisect has looked at the host's tools already."""


def classify(run: report.RunReport) -> tuple[Outcome, str]:
    """A point's outcome from its run: a failed test or a splat fails it; a skipped
    test (none failing) skips it; else it passes."""
    code, verdict = report.verdict(run, allow_skips=False)
    c = run.counts()
    if c["failed"] or c["error"] or run.splats:
        return Outcome.FAIL, verdict
    if code != ExitCode.OK:
        return Outcome.SKIP, verdict
    return Outcome.PASS, verdict


class KernelTester:
    """test_at(i) for real: apply up to patch i, build, boot, run -k TEST."""

    def __init__(
        self, bisect: Bisect, intake: Intake, target: Series, suite_series: list[str]
    ) -> None:
        self.b = bisect
        self.intake = intake
        self.target = target
        self.suite_series = suite_series
        self.src: source.KernelSource | None = None

    def _source(self) -> source.KernelSource:
        if self.src is None:
            cache, runner = self.b.cache, self.b.runner
            with locks.held(cache.source_lock, "the base import (another run is importing)"):
                tree = self.b.opts.kernel_tree
                if tree is not None:
                    self.src = source.tree_source(tree, cache, runner)
                    if self.intake.base_rev:  # the posting's base-commit
                        sha = runner.git(tree, "rev-parse", f"{self.intake.base_rev}^{{commit}}")
                        self.src = dataclasses.replace(self.src, commit=sha)
                else:
                    self.src = source.debian_source(cache, runner)
        return self.src

    def key(self) -> str:
        src = self._source()
        return STACK if src.source_id == "debian" else f"{src.source_id}/{STACK}"

    def __call__(self, i: int) -> Point:
        start = time.monotonic()
        try:
            outcome, detail = self._test(i)
        except BrokenBuild as exc:
            outcome, detail = Outcome.SKIP, f"the build broke: {exc.problem.splitlines()[0]}"
        except InfraError as exc:
            outcome, detail = Outcome.SKIP, f"infrastructure: {exc.problem.splitlines()[0]}"
        return Point(i, outcome, time.monotonic() - start, detail)

    def _test(self, i: int) -> tuple[Outcome, str]:
        b = self.b
        key = self.key()
        stack = [*self.intake.dependencies, truncated(self.target, i)]
        wt = apply.prepare_worktree(self._source(), stack, key, b.cache, b.runner)
        build_dir = b.cache.build(key)
        fragments = [b.repo / "kernel-config" / n for n in ("base.config", *self.intake.config)]
        cfg = build.configure(wt.path, build_dir, fragments, b.runner, head=wt.head)
        build.build(
            wt.path, build_dir, wt.head, cfg, b.cache, b.runner, b.results / f"build-{i:04d}.log"
        )
        out = b.results / f"point-{i:04d}"
        opts = Options(
            command="test",
            series=self.suite_series,
            accel=b.opts.accel,
            timeout=b.opts.timeout,
            keyword=b.opts.keyword,
            jobs=1,
            results_root=b.results,
        )
        p = Pipeline(opts, b.repo, b.cache, results=out, host_check=_no_host_check)
        p.runner = b.runner
        p.work_key = key
        p.open_results()
        try:
            p.boot_and_test(wt.path, build_dir)
            outcome, p.report.verdict = classify(p.report)
            p.report.exit_code = int(ExitCode.FAILED if outcome is Outcome.FAIL else ExitCode.OK)
        except HarnessError as exc:
            p.report.error = str(exc)
            p.report.exit_code = int(exc.exit_code)
            raise
        finally:
            p.report.write(out)
        return outcome, p.report.verdict


def _mbox_series(intake: Intake, patch_dir: Path, files: list[Path]) -> Series:
    """The posting as a series of its own, its patches the files written from its mails."""
    return Series(
        name=f"{STACK}-{intake.name}",
        path=patch_dir,
        description=intake.posting.origin,
        base=None,
        depends_on=(),
        config=(),
        selftests=(),
        tools=(),
        patches=tuple(files),
        cover_letter=None,
    )


class Bisect:
    def __init__(
        self,
        opts: BisectOptions,
        repo: Path,
        cache: CacheLayout,
        runner: Runner | None = None,
        host_check: HostCheck = hostdeps.check,
        tester: Callable[[Bisect, Intake, Series, list[str]], TestAt] | None = None,
    ) -> None:
        """``tester``: makes test_at(i) (default: KernelTester: build and boot)."""
        self.opts = opts
        self.repo = repo
        self.cache = cache
        self.runner = runner or Runner()
        self.host_check = host_check
        self.make_tester = tester or KernelTester
        name = opts.series or (opts.mbox.stem if opts.mbox else "bisect")
        root = opts.results_root or repo / "results"
        self.results = new_results_dir(root, f"{run_stamp()}-bisect-{name}")
        self.report = BisectReport(self.results.name, name, opts.keyword, good=opts.good)
        self.report.check_base = opts.check_base

    def execute(self) -> ExitCode:
        try:
            self._bisect()
        except HarnessError as exc:
            self.report.error, self.report.exit_code = str(exc), int(exc.exit_code)
        except Exception as exc:  # a harness bug or a damaged file: exit 3, never 1
            tb = self.results / "traceback.txt"
            tb.write_text(traceback.format_exc())
            self.report.error = str(unexpected(exc, str(tb)))
            self.report.exit_code = int(ExitCode.INFRA)
        except KeyboardInterrupt:
            self.report.error, self.report.exit_code = "interrupted", int(ExitCode.INFRA)
        finally:
            self.report.decide()
            self.runner.log.write(self.results / "commands.sh")
            self.report.write(self.results)
            point_latest(self.results)
        if self.report.error:
            progress(f"error: {self.report.error}")
        self.report.print(self.results)
        return ExitCode(self.report.exit_code)

    def _bisect(self) -> None:
        opts = self.opts
        if not opts.keyword.strip():
            raise UsageError("-k TEST is empty", "name the test that fails, e.g. -k test_stats")
        if opts.series is None and opts.mbox is None:
            raise UsageError("harness bisect needs --series NAME or --mbox FILE")
        self.host_check(hostdeps.stages_for("bisect"))
        intake = take(
            CheckOptions(mbox=opts.mbox, series=opts.series, depends_on=opts.depends_on),
            self.repo,
            self.runner,
        )
        n = len(intake.posting.patches)
        if not 0 <= opts.good < n:
            raise UsageError(
                f"--good {opts.good}: want 0 (the base) to {n - 1}", f"the series has {n} patches"
            )
        target, suites = self._target(intake)
        self.report.patches = [
            PatchInfo(i, m.title, str(target.patches[i - 1]))
            for i, m in enumerate(intake.posting.patches, 1)
        ]
        self.report.notes += list(intake.notes)
        if intake.dependencies:
            self.report.notes.append("on " + ", ".join(s.name for s in intake.dependencies))
        progress(f"harness bisect: {intake.posting.origin}, {n} patch(es), -k {opts.keyword}")
        tester = self.make_tester(self, intake, target, suites)
        key = tester.key() if isinstance(tester, KernelTester) else STACK
        with locks.held(self.cache.stack_lock(key), f"stack {key} (another bisect is using it)"):
            found = search(
                n,
                tester,
                progress,
                check_base=opts.check_base,
                good=opts.good,
                label=self.report.name_of,
            )
        self.report.search = found
        self.report.exit_code = int(exit_code(found))

    def _target(self, intake: Intake) -> tuple[Series, list[str]]:
        """The series bisected, and the series whose suites are run."""
        if self.opts.series is not None:
            return Catalog(self.repo)[self.opts.series], [self.opts.series]
        patch_dir = self.results / "patches"
        patch_dir.mkdir()
        files = []
        for m in intake.posting.patches:
            f = patch_dir / f"{m.number:04d}.patch"
            f.write_text(m.as_patch())
            files.append(f)
        deps = [s.name for s in intake.dependencies]
        return _mbox_series(intake, patch_dir, files), deps or [DEFAULT_SUITE]


def exit_code(found: Search) -> ExitCode:
    if found.status is Status.NOTHING:
        return ExitCode.OK
    if found.status in (Status.UNTESTABLE, Status.ALL_SKIPPED):
        return ExitCode.INFRA
    return ExitCode.FAILED


def run_bisect(
    opts: BisectOptions,
    repo: Path,
    cache: CacheLayout,
    runner: Runner | None = None,
    host_check: HostCheck = hostdeps.check,
) -> ExitCode:
    return Bisect(opts, repo, cache, runner, host_check).execute()
