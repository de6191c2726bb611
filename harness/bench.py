"""`harness bench`: the cost per packet of an XDP_DROP program, on the unpatched base
kernel and on a patched one with its XDP statistics off and on.

Both kernels go through the usual stages (Pipeline: source, apply, config,
build, all cached), get bpftool built from their own tree and the program in
bench/progs compiled against their UAPI. Each then boots once per clock, one
vCPU, and runs harness.bench_guest, which measures with BPF_PROG_TEST_RUN and
pktgen (native and generic XDP):

- ``icount``: QEMU's ``-icount shift=0,sleep=off`` (TCG): the guest clock
  advances exactly 1 ns per executed guest instruction, so the kernel's own
  timings count guest instructions, which carry over to hardware and repeat;
- ``ns``: the guest's real-time clock (KVM when it works, else TCG).

The two kernels' sizes are compared with the tree's scripts/bloat-o-meter
(harness.bench_bloat). The results directory holds per kernel what a run leaves
(console.log, config, build.log, commands.sh; per clock <clock>/samples.json and
its console), and for the comparison results.json, table.md, bench.png and
bloat/.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import bench_bloat, bench_report, bpfprogs, hostdeps, kerneltools
from harness.errors import ExitCode, HarnessError, InfraError, UsageError, unexpected
from harness.paths import CacheLayout, new_results_dir, point_latest, run_stamp
from harness.pipeline import HostCheck, Options, Pipeline
from harness.series import Catalog, config_fragments, resolve, stack_key
from harness.ui import progress, result
from harness.vm import VmSpec

BASE_SERIES = "baseline"
BENCH_PROGS = Path("bench") / "progs"
BENCH_OBJ = "xdp_drop.bpf.o"
CLOCKS = ("icount", "ns")
ICOUNT_QEMU_OPT = "-icount shift=0,sleep=off"
QEMU = "qemu-system-x86_64"


@dataclass(frozen=True)
class BenchOptions:
    series: list[str] = field(default_factory=lambda: ["xdp-stats"])
    # what the series is compared with: the base kernel, or a stack of series whose
    # XDP statistics switch too (then both kernels run off and on)
    against: list[str] = field(default_factory=lambda: [BASE_SERIES])
    runs: int = 5
    repeat: int = 1_000_000
    pktgen_count: int = 50_000
    clocks: tuple[str, ...] = CLOCKS
    accel: str = "auto"
    timeout: float | None = None
    boot_timeout: float | None = None
    results_root: Path | None = None
    kernel_tree: Path | None = None
    rebuild: bool = False
    verbose: bool = False

    def check(self) -> None:
        for name, value in (
            ("--runs", self.runs),
            ("--repeat", self.repeat),
            ("--pktgen-count", self.pktgen_count),
        ):
            if value < 1:
                raise UsageError(f"{name} must be at least 1, got {value}")
        if BASE_SERIES in self.series:
            raise UsageError(
                f"--series {BASE_SERIES} is what the patched kernel is compared with",
                "name the series to measure, e.g. --series xdp-stats",
            )
        if not self.against or (BASE_SERIES in self.against and len(self.against) > 1):
            raise UsageError(
                f"--against {','.join(self.against) or '(nothing)'}: compare with "
                f"{BASE_SERIES} alone or with series",
                "e.g. --against feature-flags,xdp-stats",
            )
        if set(self.against) & set(self.series):
            raise UsageError(
                f"--against {','.join(self.against)} names a series that --series measures",
                "compare the series with what it depends on, e.g. --series multi-buffer "
                "--against feature-flags,xdp-stats",
            )
        unknown = set(self.clocks) - set(CLOCKS)
        if not self.clocks or unknown:
            raise UsageError(
                "nothing to measure with" if not self.clocks else f"unknown clocks {unknown}",
                "drop --no-icount or --no-ns",
            )
        if "icount" in self.clocks and self.accel == "kvm":
            raise UsageError(
                "instruction counting (QEMU -icount) needs TCG, and --accel kvm was asked for",
                "add --no-icount to measure ns under KVM only",
            )


@dataclass(frozen=True)
class Kernel:
    label: str  # "base" or "patched"
    series: list[str]
    configs: tuple[str, ...]


@dataclass(frozen=True)
class Prepared:
    """What measuring a kernel needs: its tree, build, bpftool and program."""

    worktree: Path
    build_dir: Path
    bpftool: Path
    obj: Path


def kernels(opts: BenchOptions) -> list[Kernel]:
    base_configs = ("base",) if opts.against == [BASE_SERIES] else ("off", "on")
    return [
        Kernel("base", list(opts.against), base_configs),
        Kernel("patched", list(opts.series), ("off", "on")),
    ]


def sample_config(kernel: str, config: str) -> str:
    """The configuration a sample is reported as: the base kernel's off and on are
    ``base-off`` and ``base-on`` when it is a stack of series with statistics."""
    return f"base-{config}" if kernel == "base" and config != "base" else config


def guest_command(
    out: Path, prep: Prepared, configs: tuple[str, ...], clock: str, opts: BenchOptions
) -> list[str]:
    cmd = [sys.executable, "-m", "harness.bench_guest", "--out", str(out)]
    cmd += ["--bpftool", str(prep.bpftool), "--obj", str(prep.obj)]
    cmd += ["--kernel-tree", str(prep.worktree), "--clock", clock]
    for config in configs:
        cmd += ["--config", config]
    cmd += ["--runs", str(opts.runs), "--repeat", str(opts.repeat)]
    cmd += ["--pktgen-count", str(opts.pktgen_count)]
    return cmd


def vm_tweak(clock: str) -> Callable[[VmSpec], VmSpec]:
    """One vCPU (pktgen's thread and the program share it); -icount for ``icount``."""
    extra = (ICOUNT_QEMU_OPT,) if clock == "icount" else ()
    return lambda spec: dataclasses.replace(spec, cpus=1, qemu_opts=(*spec.qemu_opts, *extra))


def qemu_version(text: str) -> str:
    """ "7.2.22" from ``qemu-system-x86_64 --version``; the first line if unusual."""
    first = text.strip().splitlines()[0] if text.strip() else "?"
    words = first.split()
    return words[words.index("version") + 1] if "version" in words[:-1] else first


class Bench:
    def __init__(
        self,
        opts: BenchOptions,
        repo: Path,
        cache: CacheLayout,
        host_check: HostCheck = hostdeps.check,
    ) -> None:
        opts.check()
        self.opts = opts
        self.repo = repo
        self.cache = cache
        self.host_check = host_check
        self.kernels = kernels(opts)
        root = opts.results_root or repo / "results"
        self.key = stack_key(resolve(list(opts.series), Catalog(repo)))
        self.results = root / f"{run_stamp()}-bench-{self.key}"
        self.pipelines: dict[str, Pipeline] = {}
        catalog = Catalog(repo)
        fragments = {
            k.label: config_fragments(resolve(list(k.series), catalog)) for k in self.kernels
        }
        for k in self.kernels:
            # both kernels get the same config: a fragment of the other's stack (the
            # series' userns.config, say) is added to this one's
            others = [f for label, frags in fragments.items() if label != k.label for f in frags]
            popts = Options(
                command="bench",
                series=k.series,
                kernel_tree=opts.kernel_tree,
                accel=opts.accel,
                timeout=opts.timeout,
                boot_timeout=opts.boot_timeout,
                results_root=root,
                rebuild=opts.rebuild,
                verbose=opts.verbose,
                extra_config=others,
            )
            self.pipelines[k.label] = Pipeline(
                popts, repo, cache, results=self.results / k.label, host_check=host_check
            )
        self.samples: list[dict[str, object]] = []
        self.errors: list[str] = []
        self.load: dict[str, list[float]] = {}
        self.measured: set[str] = set()
        # per kernel, per clock: what the guest said about itself, how long it took
        self.guests: dict[str, dict[str, dict[str, object]]] = {}
        self.accels: dict[str, dict[str, object]] = {}  # per clock
        self.bloat: list[bench_bloat.Target] = []
        self.qemu = "?"
        self.started = time.monotonic()

    def _prepare(self, k: Kernel) -> Prepared:
        """Build (or reuse) the kernel; bpftool and the program for it."""
        p = self.pipelines[k.label]
        progress(f"==> {k.label} kernel: {' + '.join(s.name for s in p.stack)}")
        kernel = p.prepare_kernel()  # holds the stack's lock until p.close()
        wt, build_dir = kernel.worktree, kernel.build_dir
        with p.stage("tools"):
            bpftool = kerneltools.build_bpftool(
                wt, build_dir, p.runner, p.results / "bpftool-build.log"
            )
            progress(f"    bpftool: {bpftool}")
        with p.stage("bpf"):
            dest = self.cache.bpf(p.work_key) / "bench"
            bpfprogs.compile_dir(self.repo, self.repo / BENCH_PROGS, wt, dest, p.runner)
            progress(f"    {dest / BENCH_OBJ}")
        return Prepared(wt, build_dir, bpftool, dest / BENCH_OBJ)

    def _compare_sizes(self, base: Prepared, patched: Prepared) -> None:
        progress("==> sizes: scripts/bloat-o-meter, base vs patched")
        runner = self.pipelines["base"].runner
        self.bloat = bench_bloat.compare(
            base.worktree, base.build_dir, patched.build_dir, self.results / "bloat", runner
        )
        for t in self.bloat:
            progress(
                f"    {t.name}: {t.bloat.delta:+d} bytes" + (f" ({t.error})" if t.error else "")
            )
        self.qemu = qemu_version(runner.run([QEMU, "--version"], check=False).stdout)

    def _boot(self, k: Kernel, prep: Prepared, clock: str) -> Path:
        """Boot ``k`` once for ``clock``, its console and samples in <kernel>/<clock>/;
        the report keeps the splats of every boot of the kernel."""
        p = self.pipelines[k.label]
        kernel_results, kernel_opts, earlier = p.results, p.opts, p.report.splats
        p.results = kernel_results / clock
        p.results.mkdir(exist_ok=True)
        if clock == "icount":
            p.opts = dataclasses.replace(p.opts, accel="tcg")
        p.report.splats = []
        out = p.results / "samples.json"
        try:
            cmd = guest_command(out, prep, k.configs, clock, self.opts)
            p.boot_guest(prep.build_dir, cmd, tweak=vm_tweak(clock))
        finally:
            new = p.report.splats
            p.results, p.opts, p.report.splats = kernel_results, kernel_opts, [*earlier, *new]
            self.accels.setdefault(clock, dict(p.report.accel))
            if clock == "icount":
                self.accels[clock]["reason"] = f"QEMU {ICOUNT_QEMU_OPT} needs it"
        if new:
            self.errors.append(f"{k.label} kernel splatted ({clock}): {new[0].summary()}")
        return out

    def _measure(self, k: Kernel, prep: Prepared, clock: str) -> None:
        progress(f"==> measure on the {k.label} kernel, clock {clock}: {', '.join(k.configs)}")
        p = self.pipelines[k.label]
        errors = len(self.errors)
        out = self._boot(k, prep, clock)
        if len(self.errors) > errors:
            return
        log = out.parent / "console.log"
        if not out.exists():
            raise InfraError(f"the {k.label} guest wrote no {out.name}", f"read {log}")
        data = json.loads(out.read_text())
        if "error" in data:
            raise InfraError(
                f"measuring on the {k.label} kernel ({clock}) failed: {data['error']}",
                f"read {log}",
            )
        for sample in data.pop("samples"):
            sample["config"] = sample_config(k.label, str(sample["config"]))
            self.samples.append({"kernel": k.label, "clock": clock, **sample})
        data["timings"] = {t: p.report.timings.get(t) for t in ("guest_boot", "guest_tests")}
        self.guests.setdefault(k.label, {})[clock] = data
        self.measured.add(k.label)

    def open_results(self) -> None:
        """A new results directory (never another run's), one per kernel inside it."""
        self.results = new_results_dir(self.results.parent, self.results.name)
        for p in self.pipelines.values():
            p.results = self.results / p.results.name
            p.open_results()

    def execute(self) -> ExitCode:
        self.open_results()
        point_latest(self.results)
        progress(f"harness bench: {self._base_name()} vs {self.key} -> {self.results}")
        code = ExitCode.OK
        error = ""
        self.load["start"] = list(os.getloadavg())
        try:
            self.host_check(hostdeps.stages_for("bench"))
            built = {k.label: self._prepare(k) for k in self.kernels}
            self._compare_sizes(built["base"], built["patched"])
            for k in self.kernels:
                for clock in self.opts.clocks:
                    self._measure(k, built[k.label], clock)
            if self.errors:
                code = ExitCode.FAILED
        except HarnessError as exc:
            code, error = exc.exit_code, str(exc)
            if any(p.report.splats for p in self.pipelines.values()):
                code = ExitCode.FAILED
        except Exception as exc:
            tb = self.results / "traceback.txt"
            tb.write_text(traceback.format_exc())
            code, error = ExitCode.INFRA, str(unexpected(exc, str(tb)))
        except KeyboardInterrupt:
            code, error = ExitCode.INFRA, "interrupted"
        finally:
            self.load["end"] = list(os.getloadavg())
            for label, p in self.pipelines.items():
                p.close()
                p.report.exit_code = int(code)
                p.report.verdict = "MEASURED" if label in self.measured else "NOT MEASURED"
                p.runner.log.write(p.results / "commands.sh")
                p.report.write(p.results)
        return self._report(code, error)

    def _switch(self) -> str:
        for data in self.guests.get("patched", {}).values():
            detail = data.get("xdp_stats_switch_detail")
            if detail:
                return str(detail)
        return "not measured"

    def _header(self) -> list[str]:
        base, patched = self.pipelines["base"], self.pipelines["patched"]

        def kernel(p: Pipeline) -> str:
            k = p.report.kernel
            names = " + ".join(s.name for s in p.stack)
            return (
                f"{names}: {k.get('version', '?')} commit {k.get('commit', '?')[:12]}, "
                f"config {p.report.config_hash or '?'}"
            )

        o = self.opts
        lines = [
            f"# XDP_DROP cost per packet: {self._base_name()} vs {self.key} "
            "(XDP statistics off / on)",
            "",
        ]
        if "icount" in o.clocks:
            lines.append(
                f"insn: guest instructions per packet, counted exactly: the guests ran under "
                f"QEMU {self.qemu} TCG with `{ICOUNT_QEMU_OPT}` and 1 vCPU, so their clock "
                "advanced 1 ns per executed instruction and the kernel's own timings (the "
                "BPF_PROG_TEST_RUN average, in whole units; pktgen's elapsed time over the "
                "frames that reached the peer) count instructions. Interrupts and softirqs "
                "that fell into the measured span count too: min … max over the runs shows "
                "how much."
            )
        if "ns" in o.clocks:
            lines.append(
                "ns: the guests' real-time clock, 1 vCPU. "
                + bench_report.accel_line(self.accels.get("ns", {}))
            )
        how = {"icount": "insn as a difference (and in percent)", "ns": "ns as a ratio"}
        lines += [
            f"XDP statistics switched with: {self._switch()}.",
            f"Kernels: base = {kernel(base)}; patched = {kernel(patched)}.",
            f"{o.runs} runs per configuration and clock; BPF_PROG_TEST_RUN repeat {o.repeat}; "
            f"pktgen {o.pktgen_count} frames of 64 bytes per run. vs base / vs off: of the "
            f"medians; {', '.join(how[c] for c in o.clocks)}.",
            f"Host load average (1/5/15 min): start {self._fmt_load('start')}, "
            f"end {self._fmt_load('end')}.",
        ]
        return lines

    def _base_name(self) -> str:
        return "base" if self.opts.against == [BASE_SERIES] else "+".join(self.opts.against)

    def _fmt_load(self, when: str) -> str:
        return "/".join(f"{x:.2f}" for x in self.load.get(when, []))

    def _plot(self, rows: list[bench_report.Row]) -> None:
        units = " and ".join(bench_report.UNITS[c] for c in self.opts.clocks)
        title = f"XDP_DROP {units} per packet: {self._base_name()} vs {self.key}"
        try:
            bench_report.plot(rows, self.samples, self.results / "bench.png", title)
        except ImportError as exc:
            self.errors.append(f"no plot: {exc} (pip install matplotlib)")

    def _report(self, code: ExitCode, error: str) -> ExitCode:
        rows = bench_report.summarize(self.samples) if self.samples else []
        table = ""
        if rows:
            table = bench_report.render_table(rows, self._header())
            self._plot(rows)
        if self.bloat:
            title = (
                f"## Size: scripts/bloat-o-meter, {self._base_name()} vs {self.key} "
                "(bloat/ has each report)"
            )
            table += ("\n" if table else "") + bench_bloat.render(self.bloat, title)
        if table:
            (self.results / "table.md").write_text(table)
        problems = [*self.errors, *([error] if error else [])]
        if not self.samples and code == ExitCode.OK:
            code = ExitCode.INFRA
            problems.append("no samples")
        verdict = "OK" if code == ExitCode.OK else "FAIL"
        data = {
            "command": shlex.join(["harness", *sys.argv[1:]]),
            "series": self.opts.series,
            "against": self.opts.against,
            "accel": self.accels,
            "qemu": self.qemu,
            "params": {
                "runs": self.opts.runs,
                "repeat": self.opts.repeat,
                "pktgen_count": self.opts.pktgen_count,
                "clocks": list(self.opts.clocks),
                "icount": ICOUNT_QEMU_OPT,
                "vcpus": 1,
            },
            "xdp_stats_switch": self._switch(),
            "kernels": {
                label: {
                    "series": [s.name for s in p.stack],
                    "kernel": p.report.kernel,
                    "config_hash": p.report.config_hash,
                    "timings": p.report.timings,
                    "splats": [s.summary() for s in p.report.splats],
                    "guests": self.guests.get(label, {}),
                }
                for label, p in self.pipelines.items()
            },
            "host_load": self.load,
            "seconds": round(time.monotonic() - self.started, 1),
            "summary": [asdict(r) for r in rows],
            "deltas": [asdict(d) for d in bench_report.deltas(rows)],
            "bloat": [{**asdict(t), "delta": t.bloat.delta} for t in self.bloat],
            "samples": self.samples,
            "problems": problems,
            "exit_code": int(code),
            "verdict": verdict,
        }
        (self.results / "results.json").write_text(json.dumps(data, indent=2))
        result()
        if table:
            result(table)
        for problem in problems:
            result("error: " + problem.replace("\n", "\n       "))
        result(f"results: {self.results}")
        result(f"{verdict} (exit {int(code)})")
        return code
