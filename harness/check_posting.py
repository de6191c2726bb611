"""`harness check`: a posting checked patch by patch, as the netdev/bpf CI does.

Without a tree (--no-build): the form, Signed-off-by, Fixes:, checkpatch and the
UAPI mirror by the patches' lines. With one: each patch applied (git am -3) on the
one before, built incrementally with no new W=1 warning, kernel-doc, and the UAPI
mirror by the files."""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import tempfile
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from harness import apply, build, check_kcidb, check_vm, hostdeps, locks, source
from harness.check_base import BaseTree
from harness.check_intake import CheckOptions, Intake, take
from harness.check_report import SERIES_ROW, CheckReport, PatchRow
from harness.checks import CheckResult, Status, skipped
from harness.checks import applies as applies_check
from harness.checks import builds as builds_check
from harness.checks import checkpatch as checkpatch_check
from harness.checks import kerneldoc as kerneldoc_check
from harness.checks import uapi as uapi_check
from harness.checks.diffs import touched_files
from harness.checks.fixes import check_fixes
from harness.checks.form import check_form
from harness.checks.series_level import check_cover, check_tree
from harness.checks.signoff import check_signoff
from harness.errors import ExitCode, HarnessError, UsageError, unexpected
from harness.mbox import Mail
from harness.paths import CacheLayout, new_results_dir, point_latest, run_stamp
from harness.runner import Runner
from harness.ui import progress

# The columns, in this order.
ORDER = (
    "applies",
    "builds",
    "kernel-doc",
    "checkpatch",
    "signed-off-by",
    "fixes",
    "format",
    "uapi-mirror",
    check_vm.NAME,
)
HostCheck = Callable[[Iterable[str]], None]


def _run_name(opts: CheckOptions) -> str:
    if opts.series:
        return opts.series
    if opts.mbox:
        return opts.mbox.stem
    return "range"


class PostingCheck:
    def __init__(
        self,
        opts: CheckOptions,
        repo: Path,
        cache: CacheLayout,
        runner: Runner | None = None,
        host_check: HostCheck = hostdeps.check,
    ) -> None:
        self.opts = opts
        self.repo = repo
        self.cache = cache
        self.runner = runner or Runner()
        self.host_check = host_check
        root = opts.results_root or repo / "results"
        self.results = new_results_dir(root, f"{run_stamp()}-check-{_run_name(opts)}")
        self.report = CheckReport(self.results.name, _run_name(opts), 0)
        self.found: dict[int, dict[str, CheckResult]] = {}
        # for kcidb.json: when the run started, the patches, the base, the fragments
        self.kcidb = check_kcidb.KcidbInput(
            start_time=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        )

    def execute(self) -> ExitCode:
        try:
            command = "check --no-build" if self.opts.no_build else "check"
            self.host_check(hostdeps.stages_for(command))
            if self.opts.per_patch_tests:
                self.host_check(hostdeps.stages_for("test"))
            intake = take(self.opts, self.repo, self.runner)
            self._check(intake)
        except HarnessError as exc:
            self.report.error = str(exc)
            self.report.exit_code = int(exc.exit_code)
        except Exception as exc:  # a harness bug or a damaged file: exit 3, never 1
            (self.results / "traceback.txt").write_text(traceback.format_exc())
            self.report.error = str(unexpected(exc, str(self.results / "traceback.txt")))
            self.report.exit_code = int(ExitCode.INFRA)
        except KeyboardInterrupt:
            self.report.error = "interrupted"
            self.report.exit_code = int(ExitCode.INFRA)
        finally:
            self.report.decide()
            self.runner.log.write(self.results / "commands.sh")
            note = check_kcidb.write(self.results, self.report, self.kcidb)
            if note:
                self.report.notes.append(note)
            self.report.write(self.results)
            point_latest(self.results)
        if self.report.error:
            progress(f"error: {self.report.error}")
        self.report.print(self.results)
        return ExitCode(self.report.exit_code)

    # -- the checks --------------------------------------------------------------------
    def _check(self, intake: Intake) -> None:
        posting = intake.posting
        r = self.report
        r.origin, r.total, r.allow = posting.origin, len(posting.patches), intake.allow
        r.notes += intake.notes
        if intake.dependencies:
            r.notes.append("on top of " + ", ".join(s.name for s in intake.dependencies))
        r.mode = "no-build checks only (--no-build)" if self.opts.no_build else "every check"
        progress(f"harness check: {posting.origin}, {r.total} patch(es) -> {self.results}")
        patch_dir = self.results / "patches"
        patch_dir.mkdir()
        files: dict[int, Path] = {}
        for m in posting.patches:
            files[m.number] = patch_dir / f"{m.number:04d}.patch"
            files[m.number].write_text(m.as_patch())
        base = self._base_tree(intake)
        r.base = self._describe(base)
        self.kcidb = dataclasses.replace(
            self.kcidb,
            patches=[
                (m.number, files[m.number].read_text(), m.message_id) for m in posting.patches
            ],
            base_commit=base.commit if base is not None and base.history else "",
            config=intake.config,
        )
        series_row = PatchRow(SERIES_ROW, posting.cover.title if posting.cover else "(series)")
        series_row.results += [
            check_cover(posting, intake.from_range),
            check_tree(posting, intake.from_range),
        ]
        history = base.subject if base is not None and base.history else None
        earlier: dict[str, int] = {}
        for m in posting.patches:
            fixes = check_fixes(m.message, history, earlier)
            self._put(m, check_form(m), check_signoff(m), fixes)
            earlier.setdefault(m.title, m.number)
        exists: uapi_check.MirrorExists = base.exists if base is not None else (lambda p: None)
        hunks = uapi_check.by_hunks(posting, exists)
        if self.opts.no_build:
            with tempfile.TemporaryDirectory(prefix="harness-scripts-") as tmp:
                script = self._scripts(base, Path(tmp)) / "checkpatch.pl"
                for m in posting.patches:
                    progress(f"    checkpatch {m.number}/{r.total}")
                    cp = checkpatch_check.run_checkpatch(
                        files[m.number], script, self.runner, intake.allow
                    )
                    self._put(m, cp, hunks[m.number])
                    for name in ("applies", "builds", "kernel-doc"):
                        self._put(m, skipped(name, "--no-build: needs a tree"))
        else:
            TreeChecks(self, intake, files, hunks).run()
        r.rows = [series_row] + [
            PatchRow(
                m.number,
                m.title,
                m.author,
                [self.found[m.number][c] for c in ORDER if c in self.found[m.number]],
                m.given_tags,
            )
            for m in posting.patches
        ]

    def _put(self, mail: Mail, *results: CheckResult) -> None:
        for res in results:
            self.found.setdefault(mail.number, {})[res.check] = res

    def _base_tree(self, intake: Intake) -> BaseTree | None:
        """The base to look files and commits up in: the --kernel-tree, or Debian's
        import (made if needed, unless --no-build with --scripts: then only if the
        cache has it already)."""
        tree = self.opts.kernel_tree
        if tree is not None:
            rev = intake.base_rev or "HEAD"
            sha = self.runner.git(
                tree, "rev-parse", "-q", "--verify", f"{rev}^{{commit}}", check=False
            )
            if not sha:
                raise UsageError(
                    f"the base {rev} is not a commit of {tree}",
                    "fetch it into the tree, or pass --base REV (e.g. --base HEAD)",
                )
            git_dir = Path(self.runner.git(tree, "rev-parse", "--absolute-git-dir"))
            common = self.runner.git(
                tree, "rev-parse", "--path-format=absolute", "--git-common-dir", check=False
            )
            return BaseTree(Path(common) if common else git_dir, sha, True, self.runner)
        imported = (self.cache.debian_repo.parent / "linux.imported.json").exists()
        if self.opts.no_build and self.opts.scripts is not None and not imported:
            return None
        with locks.held(self.cache.source_lock, "the base import (another run is importing)"):
            src = source.debian_source(self.cache, self.runner)
        return BaseTree(src.repo, src.commit, False, self.runner)

    def _describe(self, base: BaseTree | None) -> str:
        if base is None:
            return "none (--no-build with --scripts: no base tree read)"
        kind = f"--kernel-tree {self.opts.kernel_tree}" if base.history else "Debian linux-source"
        return f"{kind} at {base.commit[:12]}"

    def _scripts(self, base: BaseTree | None, tmp: Path) -> Path:
        if self.opts.scripts is not None:
            if not (self.opts.scripts / "checkpatch.pl").is_file():
                raise UsageError(f"--scripts {self.opts.scripts}: no checkpatch.pl in it")
            return self.opts.scripts
        if base is None:  # pragma: no cover - _base_tree returns one without --scripts
            raise UsageError("no base tree to take scripts/checkpatch.pl from")
        return base.extract_scripts(tmp)


class TreeChecks:
    """Each patch on the tree with the ones before it: applies, builds, kernel-doc,
    checkpatch in the tree, the UAPI mirror by the files."""

    def __init__(
        self,
        run: PostingCheck,
        intake: Intake,
        files: dict[int, Path],
        hunks: dict[int, CheckResult],
    ) -> None:
        self.run_ = run
        self.intake = intake
        self.files = files
        self.hunks = hunks
        self.runner = run.runner
        self.cache = run.cache

    def _source(self) -> source.KernelSource:
        opts = self.run_.opts
        with locks.held(self.cache.source_lock, "the base import (another run is importing)"):
            if opts.kernel_tree is not None:
                src = source.tree_source(opts.kernel_tree, self.cache, self.runner)
            else:
                src = source.debian_source(self.cache, self.runner)
        if opts.kernel_tree is not None and self.intake.base_rev:
            sha = self.runner.git(
                opts.kernel_tree, "rev-parse", f"{self.intake.base_rev}^{{commit}}"
            )
            src = dataclasses.replace(src, commit=sha)
        return src

    def run(self) -> None:
        src = self._source()
        key = "check" if src.source_id == "debian" else f"{src.source_id}/check"
        with locks.held(self.cache.stack_lock(key), f"stack {key} (another check is using it)"):
            self._run(src, key)

    def _run(self, src: source.KernelSource, key: str) -> None:
        posting = self.intake.posting
        results = self.run_.results
        wt = apply.prepare_worktree(
            src, list(self.intake.dependencies), key, self.cache, self.runner
        )
        build_dir = self.cache.build(key)
        opts = self.run_.opts
        vm = (
            check_vm.PatchTests(
                self.run_.repo,
                self.cache,
                results,
                self.runner,
                key,
                opts.accel,
                opts.rerun_failures,
            )
            if opts.per_patch_tests
            else None
        )
        later = ("applies", "builds", "kernel-doc", *((check_vm.NAME,) if vm else ()))
        fragments = [
            self.run_.repo / "kernel-config" / n for n in ("base.config", *self.intake.config)
        ]
        cfg = build.configure(wt.path, build_dir, fragments, self.runner, head=wt.head)
        progress("==> the tree before the series")
        build.build(
            wt.path, build_dir, wt.head, cfg, self.cache, self.runner, results / "build-base.log"
        )
        w1 = builds_check.W1Build(wt.path, build_dir, self.runner, build.make_env(self.cache))
        uapi_files = sorted({f for fs in uapi_check.uapi_files(posting).values() for f in fs})
        equal = [self._uapi_equal(wt.path, uapi_files)]
        stopped: int | None = None
        for m in posting.patches:
            n = m.number
            if stopped is not None:
                why = f"patch {stopped} did not apply"
                for name in later:
                    self.run_._put(m, skipped(name, why))
                self.run_._put(m, self._checkpatch(self.files[n], None, wt.path))
                continue
            progress(f"==> {n}/{len(posting.patches)} {m.title}")
            touched = touched_files(m.diff)
            before = w1.warnings_of(touched)
            applied = applies_check.git_am(wt.path, self.files[n], self.runner)
            self.run_._put(m, applied)
            if applied.status is Status.FAIL:
                stopped = n
                for name in later[1:]:
                    self.run_._put(m, skipped(name, "the patch does not apply"))
                self.run_._put(m, self._checkpatch(self.files[n], None, wt.path))
                continue
            head = self.runner.git(wt.path, "rev-parse", "HEAD")
            log = results / f"build-{n:04d}.log"

            built: list[bool] = []

            def full_build(head: str = head, log: Path = log, built: list[bool] = built) -> None:
                build.build(wt.path, build_dir, head, cfg, self.cache, self.runner, log)
                built.append(True)

            self.run_._put(
                m,
                builds_check.check_build(touched, before, w1, full_build),
                kerneldoc_check.check_kerneldoc(wt.path, touched, self.runner),
                self._checkpatch(self.files[n], wt.path, wt.path),
            )
            if vm is not None:
                progress(f"    {check_vm.NAME} {n}/{len(posting.patches)}")
                tested = (
                    vm.run(n, wt.path, build_dir)
                    if built
                    else skipped(check_vm.NAME, "the kernel does not build")
                )
                self.run_._put(m, tested)
            equal.append(self._uapi_equal(wt.path, uapi_files))
        differences = self._uapi_differences(wt.path, uapi_files)
        by_files = uapi_check.by_files(posting, equal, differences, self.hunks)
        for m in posting.patches:
            self.run_._put(m, by_files[m.number])
        if vm is not None:
            self.run_.kcidb = dataclasses.replace(self.run_.kcidb, vm_tests=dict(vm.found))

    def _checkpatch(self, patch: Path, tree: Path | None, worktree: Path) -> CheckResult:
        script = worktree / "scripts" / "checkpatch.pl"
        return checkpatch_check.run_checkpatch(
            patch, script, self.runner, self.intake.allow, tree=tree
        )

    @staticmethod
    def _uapi_equal(worktree: Path, files: list[str]) -> dict[str, bool | None]:
        """For each include/uapi/ file, whether its tools/ copy is identical (None:
        there is no copy)."""
        found: dict[str, bool | None] = {}
        for f in files:
            copy = worktree / uapi_check.mirror(f)
            if not copy.is_file():
                found[f] = None
            else:
                orig = worktree / f
                found[f] = orig.is_file() and orig.read_bytes() == copy.read_bytes()
        return found

    @staticmethod
    def _uapi_differences(worktree: Path, files: list[str]) -> dict[str, str]:
        diffs: dict[str, str] = {}
        for f in files:
            orig, copy = worktree / f, worktree / uapi_check.mirror(f)
            if orig.is_file() and copy.is_file() and orig.read_bytes() != copy.read_bytes():
                lines = difflib.unified_diff(
                    orig.read_text(errors="replace").splitlines(),
                    copy.read_text(errors="replace").splitlines(),
                    f,
                    uapi_check.mirror(f),
                    lineterm="",
                )
                diffs[f] = "\n".join(list(lines)[:40])
        return diffs


def run_check(
    opts: CheckOptions,
    repo: Path,
    cache: CacheLayout,
    runner: Runner | None = None,
    host_check: HostCheck = hostdeps.check,
) -> ExitCode:
    return PostingCheck(opts, repo, cache, runner, host_check).execute()
