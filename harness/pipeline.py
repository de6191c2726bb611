"""One run: source -> apply -> config -> build -> boot -> test -> report."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shlex
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import (
    accel,
    apply,
    bpf_selftests,
    bpfprogs,
    build,
    console_view,
    guest_command,
    hostdeps,
    inputs,
    kerneltools,
    kselftests,
    locks,
    report,
    rerun,
    shards,
    source,
    splats,
    ui,
    vm,
)
from harness.errors import (
    ExitCode,
    GuestInitFailed,
    HarnessError,
    InfraError,
    UsageError,
    unexpected,
)
from harness.guest_image import GuestImage, GuestView, check_libraries, host_view, image_view
from harness.guest_outcome import VmPlan, guest_problem, merge_guests
from harness.paths import CacheLayout, new_results_dir, point_latest, run_stamp
from harness.pytest_status import pytest_error
from harness.runner import Runner
from harness.series import (
    Catalog,
    Series,
    config_fragments,
    config_key,
    resolve,
    selftest_suites,
    stack_key,
    stack_vm_shape,
)
from harness.series import bpf_selftests as series_bpf_selftests
from harness.series import kselftests as series_kselftests
from harness.series import tools as series_tools
from harness.ui import progress, warn

# Checks that every host tool the given stages need is installed (hostdeps.check).
HostCheck = Callable[[Iterable[str]], None]


# Defaults per accelerator, in seconds: (boot to guest runner, whole VM run).
TIMEOUTS = {"kvm": (90.0, 900.0), "tcg": (300.0, 2700.0)}


@dataclass
class Options:
    command: str  # run | build | test | shell
    series: list[str] = field(default_factory=list)
    all_series: bool = False
    kernel_tree: Path | None = None
    accel: str = "auto"
    timeout: float | None = None
    boot_timeout: float | None = None
    results_root: Path | None = None
    rebuild: bool = False
    allow_skips: bool = False
    keyword: str | None = None
    debug_config: bool = False
    verbose: bool = False
    pytest_args: list[str] = field(default_factory=list)
    # guests side by side, the tests dealt between them (harness.shards); 1: one guest
    # runs every suite (the command line's default: the host's CPUs)
    jobs: int = 1
    # config fragments (kernel-config/) on top of the stack's own, e.g. a benchmark's
    # base built with the fragments of the series it is compared with; such a build
    # has a cache directory of its own (config_key)
    extra_config: list[str] = field(default_factory=list)
    # the guest suites to run instead of the stack's (harness proofs), and words
    # added to the guest kernel's command line after the stack's [vm] append
    suites: list[str] | None = None
    append: list[str] = field(default_factory=list)
    # harness reproduce: the base the results were made on; another one is refused
    # right after the source stage (exit 2), before anything is applied or built
    expected_base: inputs.BaseRef | None = None
    # the tests that failed, run once more in one fresh guest: passing then is "flaky"
    # (harness.rerun); `run`/`test` --rerun-failures, on in `harness check`'s VM runs
    rerun_failures: bool = False
    # the guest's root filesystem: a vm-images/build-rootfs.sh image; None: the host's
    image: Path | None = None


@dataclass(frozen=True)
class KernelBuild:
    """The kernel a run tests: its tree, build directory, commit and configuration
    (None for `harness test`, which takes the kernel built before as it is)."""

    worktree: Path
    build_dir: Path
    head: str
    config: build.ConfigResult | None = None

    @property
    def bzimage(self) -> Path:
        return build.bzimage_of(self.build_dir)


class Pipeline:
    def __init__(
        self,
        opts: Options,
        repo: Path,
        cache: CacheLayout,
        results: Path | None = None,
        host_check: HostCheck = hostdeps.check,
    ) -> None:
        """``results``: this run's directory, instead of <results root>/<run id>.
        ``host_check``: checks the host tools of the stages a command goes through."""
        self.opts = opts
        self.repo = repo
        self.cache = cache
        self.runner = Runner()
        self.host_check = host_check
        self.known = Catalog(repo)  # only the series asked for are read
        # a bad image is refused here (exit 2), before anything is imported or built
        self.image = None if opts.image is None else GuestImage.load(opts.image)
        names = list(self.known) if opts.all_series else opts.series
        self.stack: list[Series] = resolve(names, self.known)
        self.extra_config = [f for f in opts.extra_config if f not in config_fragments(self.stack)]
        # a --debug-config build has a directory of its own: switching between the two
        # does not rebuild either
        debug = ["debug.config"] if opts.debug_config else []
        self.key = config_key(stack_key(self.stack), [*self.extra_config, *debug])
        self.suites = selftest_suites(self.stack) if opts.suites is None else list(opts.suites)
        self.units: list[shards.Unit] = []  # what the guests ran, when several did
        self.run_id = f"{run_stamp()}-{self.key}"
        root = opts.results_root or repo / "results"
        self._results_given = results is not None
        self.results = results or root / self.run_id
        # The stack's directory in the cache this run works in (its key: _key), and
        # the locks the run holds (released when it ends: close()).
        self.work_key = self.key
        self._stack_fd = -1
        self._locks = contextlib.ExitStack()
        self._accel_decisions: dict[str, accel.AccelDecision] = {}
        self.report = report.RunReport(
            run_id=self.run_id,
            command=shlex.join(["harness", *sys.argv[1:]]) if sys.argv else opts.command,
            series=[s.name for s in self.stack],
            suites=self.suites,
        )
        self.report.inputs = self._inputs()

    # -- helpers ---------------------------------------------------------------
    def open_results(self) -> None:
        """Create this run's results directory: a new one, never another run's (two runs
        started in the same second get <id> and <id>-2)."""
        if self._results_given:
            self.results.mkdir(parents=True)
            return
        self.results = new_results_dir(self.results.parent, self.run_id)
        self.run_id = self.report.run_id = self.results.name

    def lock_stack(self, key: str) -> int:
        """Hold the stack's lock until close(): its worktree, build directory and BPF
        objects are this run's alone, and so is the guest that boots its kernel."""
        fd = self._locks.enter_context(
            locks.held(self.cache.stack_lock(key), f"stack {key} (another run is using it)")
        )
        self.work_key = key
        self._stack_fd = fd
        return fd

    def close(self) -> None:
        """Release the locks this run holds."""
        self._locks.close()

    def check_host(self) -> None:
        """Every host tool the command needs, before its first expensive step."""
        self.host_check(hostdeps.stages_for(self.opts.command))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        progress(f"==> {name}")
        start = time.monotonic()
        try:
            yield
        finally:
            self.report.timings[name] = round(time.monotonic() - start, 2)

    def source_stage(self) -> source.KernelSource:
        """The base, imported once per cache (under its lock), recorded in the report."""
        with locks.held(self.cache.source_lock, "the base import (another run is importing)"):
            if self.opts.kernel_tree is not None:
                src = source.tree_source(self.opts.kernel_tree, self.cache, self.runner)
            else:
                src = source.debian_source(self.cache, self.runner)
        self.report.kernel.update(
            version=src.version, origin=src.origin, base_commit=src.commit, source_id=src.source_id
        )
        if self.opts.expected_base is not None:
            inputs.check_base(self.opts.expected_base, src.commit, src.version, src.origin)
        progress(f"    base {src.version} from {src.origin} ({src.commit[:12]})")
        return src

    def _inputs(self) -> dict[str, object]:
        """What this run tests, for results.json: `harness reproduce` checks it."""
        commit, dirty = inputs.harness_commit(self.repo)
        o = self.opts
        tree = None if o.kernel_tree is None else o.kernel_tree.expanduser().resolve()
        return inputs.RunInputs(
            series=[inputs.series_record(s) for s in self.stack],
            fragments=inputs.fragments_record(self.fragments()),
            debug_config=o.debug_config,
            kernel_tree=None if tree is None else str(tree),
            accel=o.accel,
            keyword=o.keyword,
            pytest_args=list(o.pytest_args),
            allow_skips=o.allow_skips,
            jobs=o.jobs,
            timeout=o.timeout,
            boot_timeout=o.boot_timeout,
            guest_image=None if self.image is None else self.image.image_id,
            harness_commit=commit,
            harness_dirty=dirty,
        ).to_dict()

    def stack_key_for(self, source_id: str) -> str:
        """The stack's directory in the cache, per base (Debian's, or a --kernel-tree)."""
        return self.key if source_id == "debian" else f"{source_id}/{self.key}"

    def fragments(self) -> list[Path]:
        """The config fragments of this run, in the order they are merged."""
        names = ["base.config", *config_fragments(self.stack), *self.extra_config]
        if self.opts.debug_config:
            names.append("debug.config")
        return [self.repo / "kernel-config" / n for n in names]

    # -- stages ----------------------------------------------------------------
    def prepare_kernel(self) -> KernelBuild:
        """source, apply, config, build."""
        with self.stage("source"):
            src = self.source_stage()
        key = self.stack_key_for(src.source_id)
        self.lock_stack(key)
        with self.stage("apply"):
            wt = apply.prepare_worktree(src, self.stack, key, self.cache, self.runner)
            self.report.kernel["commit"] = wt.head
            n = sum(len(s.patches) for s in self.stack)
            state = "unchanged, reused" if wt.reused else f"{n} patches applied"
            progress(f"    {wt.path} at {wt.head[:12]} ({state})")
        build_dir = self.cache.build(key)
        with self.stage("config"):
            cfg = build.configure(wt.path, build_dir, self.fragments(), self.runner, head=wt.head)
            for o in cfg.overrides:
                progress(f"    note: fragment override {o}")
            self.report.config_hash = cfg.hash
            shutil.copy(cfg.dotconfig, self.results / "config")
            progress(f"    {cfg.dotconfig} (hash {cfg.hash}); every requested symbol present")
        with self.stage("build"):
            res = build.build(
                wt.path,
                build_dir,
                wt.head,
                cfg,
                self.cache,
                self.runner,
                self.results / "build.log",
                force=self.opts.rebuild,
            )
            if res.skipped:
                progress("    up to date (same commit and config): nothing to build")
            else:
                progress(f"    {res.bzimage} ({res.steps} build steps)")
        return KernelBuild(wt.path, build_dir, wt.head, cfg)

    def reuse_kernel(self) -> KernelBuild:
        """harness test: the kernel built earlier for this stack, unchanged, and
        configured as asked (--debug-config or not). What is missing is said before
        the base is imported."""
        key = self.stack_key_for(source.source_id_for(self.opts.kernel_tree))
        self.lock_stack(key)
        wt_path, build_dir = self.cache.worktree(key), self.cache.build(key)
        bz = build.bzimage_of(build_dir)
        build_cmd = "harness build " + " ".join("--series " + s.name for s in self.stack)
        debug = " --debug-config" if self.opts.debug_config else ""
        if not bz.exists() or not (build_dir / build.STAMP).exists():
            raise UsageError(
                f"no built kernel for {self.key} in {build_dir}", f"run: {build_cmd}{debug}"
            )
        if build.configured_with(build_dir, self.fragments()) is False:
            was = "without" if self.opts.debug_config else "with"
            raise UsageError(
                f"the kernel built for {self.key} was configured {was} --debug-config "
                f"({build_dir / '.config'})",
                f"run: {build_cmd}{debug} (or `harness test` {'without' if debug else 'with'} "
                "--debug-config to test the kernel that is built)",
            )
        with self.stage("source"):
            src = self.source_stage()
        head = self.runner.git(wt_path, "rev-parse", "HEAD")
        state = self.cache.worktree_state(key)
        if state.exists() and apply.series_digest(src, self.stack) not in state.read_text():
            warn("the series changed since this kernel was built; `harness run` rebuilds it")
        self.report.kernel["commit"] = head
        cfg_path = build_dir / ".config"
        from harness.kconfig import config_hash

        self.report.config_hash = config_hash(cfg_path)
        shutil.copy(cfg_path, self.results / "config")
        return KernelBuild(wt_path, build_dir, head)

    def _accel(self, bzimage: Path) -> accel.AccelDecision:
        """KVM or TCG, decided (and said) once per run and requested accelerator
        (bench boots the same pipeline with --accel tcg, then as asked)."""
        requested = self.opts.accel
        if requested not in self._accel_decisions:
            self._accel_decisions[requested] = self._decide_accel(bzimage)
        decision = self._accel_decisions[requested]
        self.report.accel = asdict(decision)
        return decision

    def _decide_accel(self, bzimage: Path) -> accel.AccelDecision:
        probe_spec = vm.VmSpec(bzimage=bzimage, accel="kvm", network_loop=False, cpus=1)
        decision = accel.decide(
            self.opts.accel,
            lambda: accel.probe_with_vng(vm.vng_command(probe_spec)),
            self.cache.accel_probe,
        )
        if decision.accel == "tcg" and self.opts.accel == "auto":
            warn(
                f"KVM not usable ({decision.reason}); using TCG: expect slow guests, "
                "only timing ratios mean anything"
            )
        else:
            progress(f"    accel {decision.accel}: {decision.reason}")
        return decision

    def boot_and_test(self, worktree: Path, build_dir: Path) -> None:
        ksft = series_kselftests(self.stack)
        kselftests.check_in_tree(ksft, worktree)  # a wrong name: exit 2 before anything
        with self.stage("bpf"):
            objdir = self.cache.bpf(self.work_key)
            objs = bpfprogs.compile_suites(self.repo, self.suites, worktree, objdir, self.runner)
            progress(f"    {len(objs)} BPF objects in {objdir}")
        built_tools: dict[str, Path] = {}
        tool_names = series_tools(self.stack)
        if tool_names:
            with self.stage("tools"):
                built_tools = kerneltools.build_tools(
                    tool_names, worktree, build_dir, self.runner, self.results
                )
                for name, path in built_tools.items():
                    progress(f"    {name}: {path}")
        prog_tests = series_bpf_selftests(self.stack)
        if prog_tests:
            with self.stage("test_progs"):
                built_tools["test_progs"] = self._test_progs(
                    prog_tests, worktree, build_dir, built_tools.get("bpftool")
                )

        if self.image is not None:
            check_libraries(self.image, built_tools)

        runner = guest_command.GuestRunner(
            objdir, worktree, dict(built_tools), tuple(self.opts.pytest_args), self.opts.keyword
        )

        def guest(
            results: Path,
            suites: Iterable[str] = (),
            ksft_names: Iterable[str] = (),
            units: Path | None = None,
        ) -> list[str]:
            """The guest runner's command line, in a guest whose writable directory is
            ``results``."""
            return runner.command(self.guest_view(results), results, suites, ksft_names, units)

        plan = self._shards([t for t, _ in ksft])
        if len(plan) > 1:
            self.boot_shards(build_dir, plan, lambda d, s: guest(d, units=s.write_units(d)))
        else:
            self._one_guest(build_dir, guest, [t for t, _ in ksft])
        if self.opts.rerun_failures:
            self._rerun_failures(build_dir, guest, [t for t, _ in ksft])

    def _one_guest(
        self,
        build_dir: Path,
        guest: Callable[..., list[str]],
        ksft: list[kselftests.Kselftest],
    ) -> None:
        """Every test in one guest."""
        cmd = guest(self.results, self.suites, [t.name for t in ksft])
        if not self._fits(build_dir, cmd):
            # too long for the kernel's command line: the tests go in a file
            tests = shards.units(self.repo, self.suites, ksft)
            every = shards.Shard(1, tuple(tests), 0.0)
            cmd = guest(self.results, units=every.write_units(self.results))
            progress(f"    the guest's tests are in {self.results / shards.UNITS_FILE}")
        try:
            res = self.boot_guest(build_dir, cmd)
        finally:
            junit = self.results / "junit.xml"
            if junit.exists():
                self.report.tests = report.parse_junit(junit)
        console = res.console.read_text(errors="replace")
        err = pytest_error(res.pytest_exit, self.opts.keyword, console, res.console)
        if err is not None:
            raise err

    def _rerun_failures(
        self,
        build_dir: Path,
        guest: Callable[..., list[str]],
        ksft: list[kselftests.Kselftest],
    ) -> None:
        """The failed tests once more, in one fresh guest (results in rerun/): one that
        passes is flaky, one that fails again stays failed (harness.rerun). A splat
        there counts as any other; a rerun guest that hangs or dies leaves them failed."""
        todo = rerun.plan(
            self.report.tests, self.units or shards.units(self.repo, self.suites, ksft)
        )
        if todo is None:
            return
        out = self.results / rerun.DIR
        out.mkdir(exist_ok=True)
        progress(f"==> rerun: {len(todo.names)} failed test(s) in a fresh guest")
        before, timings = self.report.splats, dict(self.report.timings)
        self.report.splats = []
        why = ""
        try:
            res = self.boot_guest(
                build_dir,
                guest(out, units=todo.write(out)),
                console=out / "console.log",
                writable=out,
            )
            if res.pytest_exit not in (0, 1):
                why = f"pytest exit {res.pytest_exit} in the rerun guest, see {res.console}"
        except HarnessError as exc:
            why = f"the rerun guest failed: {exc.problem.splitlines()[0]}"
            warn(why)
        finally:
            again = [dataclasses.replace(s, guest=rerun.DIR) for s in self.report.splats]
            self.report.splats = [*before, *again]
            self.report.timings = timings | {"rerun": self.report.timings.get("vm", 0.0)}
        junit = out / "junit.xml"
        found = report.parse_junit(junit) if junit.exists() else []
        self.report.tests, self.report.reruns = rerun.merge(self.report.tests, found, why)
        if (self.results / "junit.xml").exists():
            rerun.mark_junit(self.results / "junit.xml", self.report.reruns, junit)
        flaky = sum(t.outcome == rerun.FLAKY for t in self.report.tests)
        progress(f"    rerun: {flaky} flaky, {len(todo.names) - flaky} failed again or not run")

    def _shards(self, ksft: list[kselftests.Kselftest]) -> list[shards.Shard]:
        """The run's tests dealt to --jobs guests (harness.shards), as many as the
        memory holds; one shard or none: one guest runs every suite, as without --jobs."""
        if self.opts.jobs <= 1:
            return []
        self.units = shards.units(self.repo, self.suites, ksft)
        jobs = min(self.opts.jobs, len(self.units))
        if jobs <= 1:
            return []
        memory = self._guest_memory()
        fit = shards.fit_memory(jobs, memory, shards.available_memory())
        if fit < jobs:
            warn(
                f"--jobs {self.opts.jobs}: the available memory holds {fit} "
                f"guest{'s' if fit > 1 else ''} of "
                f"{memory} (and {shards.GUEST_OVERHEAD >> 20} MiB for QEMU) each"
            )
        known = shards.previous_costs(
            self.results.parent, self.key, self.units, self.results
        ) or shards.hinted_costs(self.repo, self.units)
        return shards.plan(self.units, fit, known)

    def _test_progs(
        self, names: list[str], worktree: Path, build_dir: Path, bpftool: Path | None
    ) -> Path:
        """The series' kernel selftests: a test_progs with only the prog_tests they list
        (the guest gets it as XDP_SELFTEST_TEST_PROGS). Skeletons need the tree's bpftool,
        built here if the series did not ask for it."""
        if bpftool is None:
            bpftool = kerneltools.build_bpftool(
                worktree, build_dir, self.runner, self.results / "bpftool-build.log"
            )
        res = bpf_selftests.build_test_progs(
            names,
            worktree,
            build_dir,
            bpftool,
            self.runner,
            self.results / "test_progs-build.log",
            force=self.opts.rebuild,
        )
        state = "unchanged, not rebuilt" if res.skipped else f"built in {res.seconds:.1f}s"
        progress(f"    test_progs: {res.binary} with {', '.join(names)} ({state})")
        return res.binary

    def vm_plan(self, build_dir: Path) -> VmPlan:
        """The kernel to boot, the accelerator (probed once per run), the timeouts."""
        bzimage = build.bzimage_of(build_dir)
        decision = self._accel(bzimage)
        boot_to, run_to = TIMEOUTS[decision.accel]
        return VmPlan(
            bzimage,
            decision.accel,
            self.opts.boot_timeout or boot_to,
            self.opts.timeout or run_to,
        )

    def guest_view(self, writable: Path | None) -> GuestView:
        """How a guest whose one writable directory is ``writable`` sees the host: the
        host's root, or the --image with the checkout and the stack mounted into it."""
        if self.image is None:
            return host_view(self.repo, writable)
        return image_view(self.image, self.repo, writable, self.cache.stack(self.work_key))

    def _guest_memory(self) -> str:
        """A guest's memory: the stack's series.toml ``[vm] memory``, else the default."""
        return stack_vm_shape(self.stack).memory or vm.VmSpec.memory

    def vm_spec(self, bzimage: Path, accel: str, view: GuestView) -> vm.VmSpec:
        """The guest as the stack's series.toml ``[vm]`` tables shape it."""
        shape = stack_vm_shape(self.stack)
        spec = vm.VmSpec(
            bzimage=bzimage,
            accel=accel,
            mounts=view.mounts,
            cwd=view.cwd,
            root=None if view.image is None else view.image.root,
        )
        return dataclasses.replace(
            spec,
            cpus=shape.cpus or spec.cpus,
            memory=self._guest_memory(),
            append=(*spec.append, *shape.append, *self.opts.append),
        )

    def _fits(self, build_dir: Path, guest: list[str]) -> bool:
        plan = self.vm_plan(build_dir)
        spec = self.vm_spec(plan.bzimage, plan.accel, self.guest_view(self.results))
        fits, _ = vm.cmdline_fits(vm.vng_command(spec, shlex.join(guest)))
        return fits

    def boot_guest(
        self,
        build_dir: Path,
        guest: list[str],
        tweak: Callable[[vm.VmSpec], vm.VmSpec] | None = None,
        console: Path | None = None,
        writable: Path | None = None,
    ) -> vm.VmResult:
        """Boot the built kernel and run ``guest`` (a command that prints the
        harness.markers lines) in it; the console goes to the results, its splats
        to the report. Raises InfraError when the VM hung or died without a splat.
        ``tweak`` adjusts the VM (bench: one vCPU, QEMU's -icount); ``console``: where
        the console goes (default: the results' console.log); ``writable``: the guest's
        writable directory (default: the results)."""
        plan = self.vm_plan(build_dir)
        spec = self.vm_spec(plan.bzimage, plan.accel, self.guest_view(writable or self.results))
        if tweak is not None:
            spec = tweak(spec)
        cmd = vm.vng_command(spec, shlex.join(guest))
        fits, length = vm.cmdline_fits(cmd)
        if not fits and length is not None:
            raise vm.cmdline_error(length, "cannot boot the guest")
        self.runner.log.record(cmd, self.repo)
        with self.stage("vm"):
            console = console or self.results / "console.log"
            progress(
                f"    {plan.accel}, timeouts: boot {plan.boot_timeout:.0f}s, run "
                f"{plan.timeout:.0f}s; console: {console}"
            )
            result = vm.run_vm(cmd, console, plan.boot_timeout, plan.timeout, self._echo)
        if result.boot_seconds is not None:
            self.report.timings["guest_boot"] = round(result.boot_seconds, 2)
            self.report.timings["guest_tests"] = round(
                result.total_seconds - result.boot_seconds, 2
            )
        if result.killed_after_done:
            warn("the guest did not power off after the tests; killed it")
        self.report.splats = splats.scan(result.console.read_text(errors="replace"))
        err = guest_problem(result, self.report.splats, plan)
        if err is not None:
            raise err
        return result

    def boot_shards(
        self,
        build_dir: Path,
        plan: list[shards.Shard],
        guest: Callable[[Path, shards.Shard], list[str]],
    ) -> None:
        """Boot a guest per shard, side by side, each running ``guest(its results
        subdirectory, shard)`` with that subdirectory its only writable one; wait for
        all. Their junit.xml files merged into the run's, their tests and splats (each
        naming its guest) into the report; a guest that hung or died is killed, its
        console kept, and fails the run (InfraError, naming it) with the others'
        results kept. pytest's own errors as with one guest."""
        vmp = self.vm_plan(build_dir)
        jobs: list[vm.VmJob] = []
        for shard in plan:
            out = self.results / shard.name
            out.mkdir()
            spec = self.vm_spec(vmp.bzimage, vmp.accel, self.guest_view(out))
            cmd = vm.vng_command(spec, shlex.join(guest(out, shard)))
            fits, length = vm.cmdline_fits(cmd)
            if not fits and length is not None:
                raise vm.cmdline_error(length, f"cannot boot {shard.name}")
            self.runner.log.record(cmd, self.repo)
            echo = functools.partial(self._echo, guest=shard.name)
            jobs.append(vm.VmJob(cmd, out / "console.log", vmp.boot_timeout, vmp.timeout, echo))
        results: list[vm.VmResult] = []
        try:
            with self.stage("vm"):
                progress(
                    f"    {vmp.accel}, {len(plan)} guests side by side, timeouts: boot "
                    f"{vmp.boot_timeout:.0f}s, run {vmp.timeout:.0f}s; consoles: "
                    f"{self.results}/guest-<n>/console.log"
                )
                for shard in plan:
                    progress(
                        f"    {shard.name}: {len(shard.units)} units, ~{shard.cost:.0f}s: "
                        + ", ".join(u.name.removeprefix("selftests/") for u in shard.units)
                    )
                results = vm.run_vms(jobs)
        finally:  # what the guests that finished found survives an interruption too
            parts = [(s.name, self.results / s.name / "junit.xml") for s in plan]
            if any(path.exists() for _, path in parts):
                merged = self.results / "junit.xml"
                shards.merge_junit(parts, merged)
                self.report.tests = shards.order_tests(report.parse_junit(merged), self.units)
        self._merge_guests(plan, results, vmp)

    def _merge_guests(
        self, plan: list[shards.Shard], results: list[vm.VmResult], vmp: VmPlan
    ) -> None:
        """The guests' splats, reports and timings into the run's report; raise what
        went wrong (guest_outcome.merge_guests)."""
        out = merge_guests(plan, results, vmp, self.results, self.opts.keyword)
        self.report.splats += out.splats
        self.report.guests += out.guests
        self.report.timings.update(out.timings)
        if out.failure is not None:
            raise out.failure

    def _echo(self, line: str, guest: str = "") -> None:
        console_view.echo(line, self.opts.verbose, guest)

    # -- entry -----------------------------------------------------------------
    def _fail(self, exc: HarnessError) -> ExitCode:
        """Record an error in the report; a kernel splat still makes it a failure (1),
        unless the splat is the guest's init failing to start (GuestInitFailed: 3).
        The verdict says what the exit code says."""
        what = "bad usage or input" if exc.exit_code == ExitCode.USAGE else "infrastructure"
        self.report.error = str(exc)
        if self.report.splats and not isinstance(exc, GuestInitFailed):
            kinds = ", ".join(dict.fromkeys(s.kind for s in self.report.splats))
            self.report.verdict = f"FAIL: kernel splat(s): {kinds}; and an {what} error"
            return ExitCode.FAILED
        self.report.verdict = "ERROR: " + what
        return exc.exit_code

    def unexpected(self, exc: Exception) -> InfraError:
        """An exception that is not a HarnessError, with its traceback in the results."""
        tb = self.results / "traceback.txt"
        try:
            tb.write_text(traceback.format_exc())
        except OSError:
            traceback.print_exc()
            return unexpected(exc)
        return unexpected(exc, str(tb))

    def execute(self) -> ExitCode:
        self.open_results()
        point_latest(self.results)
        progress(
            f"harness {self.opts.command}: {' + '.join(s.name for s in self.stack)} "
            f"-> {self.results}"
        )
        code = ExitCode.OK
        try:
            self.check_host()
            kernel = self.reuse_kernel() if self.opts.command == "test" else self.prepare_kernel()
            if self.opts.command == "build":
                self.report.verdict = "BUILT"
            else:
                self.boot_and_test(kernel.worktree, kernel.build_dir)
                code, self.report.verdict = report.verdict(self.report, self.opts.allow_skips)
        except HarnessError as exc:
            code = self._fail(exc)
        except Exception as exc:
            code = self._fail(self.unexpected(exc))
        except KeyboardInterrupt:
            code = ExitCode.INFRA
            self.report.error = "interrupted"
            self.report.verdict = "ERROR: interrupted"
        finally:
            self.close()
            self.report.exit_code = int(code)
            self.runner.log.write(self.results / "commands.sh")
            self.report.write(self.results)
        ui.result()
        ui.result(self.report.summary_text(self.results))
        return code

    def stack_lock_to_children(self) -> None:
        """Let processes this run starts (vng, QEMU) inherit the stack's lock: the
        stack stays locked while they run, even if this process is gone."""
        os.set_inheritable(self._stack_fd, True)
