"""`harness bench`: the cost per packet of an XDP_DROP program, on the unpatched base
kernel and on a patched one with its XDP statistics off and on.

Both kernels go through the usual stages (Pipeline: source, apply, config,
build, all cached), get bpftool built from their own tree and the program in
bench/progs compiled against their UAPI, and then each boots once and runs
harness.bench_guest, which measures with BPF_PROG_TEST_RUN and pktgen. The
results directory holds per kernel what a run leaves (console.log, config,
build.log, commands.sh, samples.json), and for the comparison results.json,
table.md and bench.png.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import bench_report, bpfprogs, hostdeps, kerneltools
from harness.errors import ExitCode, HarnessError, InfraError, UsageError, unexpected
from harness.paths import CacheLayout, new_results_dir, point_latest, run_stamp
from harness.pipeline import HostCheck, Options, Pipeline
from harness.series import Catalog, resolve, stack_key
from harness.ui import progress, result

BASE_SERIES = "baseline"
BENCH_PROGS = Path("bench") / "progs"
BENCH_OBJ = "xdp_drop.bpf.o"


@dataclass(frozen=True)
class BenchOptions:
    series: list[str] = field(default_factory=lambda: ["xdp-stats"])
    runs: int = 7
    repeat: int = 5_000_000
    pktgen_count: int = 200_000
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


@dataclass(frozen=True)
class Kernel:
    label: str  # "base" or "patched"
    series: list[str]
    configs: tuple[str, ...]


def kernels(opts: BenchOptions) -> list[Kernel]:
    return [
        Kernel("base", [BASE_SERIES], ("base",)),
        Kernel("patched", list(opts.series), ("off", "on")),
    ]


def guest_command(
    out: Path, bpftool: Path, obj: Path, configs: tuple[str, ...], opts: BenchOptions
) -> list[str]:
    cmd = [sys.executable, "-m", "harness.bench_guest", "--out", str(out)]
    cmd += ["--bpftool", str(bpftool), "--obj", str(obj)]
    for config in configs:
        cmd += ["--config", config]
    cmd += ["--runs", str(opts.runs), "--repeat", str(opts.repeat)]
    cmd += ["--pktgen-count", str(opts.pktgen_count)]
    return cmd


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
        for k in self.kernels:
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
            )
            self.pipelines[k.label] = Pipeline(
                popts, repo, cache, results=self.results / k.label, host_check=host_check
            )
        self.samples: list[dict[str, object]] = []
        self.errors: list[str] = []
        self.load: dict[str, list[float]] = {}
        self.measured: set[str] = set()

    def _prepare(self, k: Kernel) -> tuple[Path, Path, Path]:
        """Build (or reuse) the kernel; bpftool and the program for it."""
        p = self.pipelines[k.label]
        progress(f"==> {k.label} kernel: {' + '.join(s.name for s in p.stack)}")
        wt, build_dir, _, _ = p.prepare_kernel()  # holds the stack's lock until p.close()
        with p.stage("tools"):
            bpftool = kerneltools.build_bpftool(
                wt, build_dir, p.runner, p.results / "bpftool-build.log"
            )
            progress(f"    bpftool: {bpftool}")
        with p.stage("bpf"):
            dest = self.cache.bpf(p.work_key) / "bench"
            bpfprogs.compile_dir(self.repo, self.repo / BENCH_PROGS, wt, dest, p.runner)
            progress(f"    {dest / BENCH_OBJ}")
        return build_dir, bpftool, dest / BENCH_OBJ

    def _measure(self, k: Kernel, build_dir: Path, bpftool: Path, obj: Path) -> None:
        p = self.pipelines[k.label]
        out = p.results / "samples.json"
        progress(f"==> measure on the {k.label} kernel: {', '.join(k.configs)}")
        p.boot_guest(build_dir, guest_command(out, bpftool, obj, k.configs, self.opts))
        if p.report.splats:
            self.errors.append(f"{k.label} kernel splatted: {p.report.splats[0].summary()}")
            return
        if not out.exists():
            raise InfraError(
                f"the {k.label} guest wrote no {out.name}", f"read {p.results / 'console.log'}"
            )
        data = json.loads(out.read_text())
        if "error" in data:
            raise InfraError(
                f"measuring on the {k.label} kernel failed: {data['error']}",
                f"read {p.results / 'console.log'}",
            )
        for sample in data["samples"]:
            self.samples.append({"kernel": k.label, **sample})
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
        progress(f"harness bench: base vs {self.key} -> {self.results}")
        code = ExitCode.OK
        error = ""
        self.load["start"] = list(os.getloadavg())
        try:
            self.host_check(hostdeps.stages_for("bench"))
            built = {k.label: self._prepare(k) for k in self.kernels}
            for k in self.kernels:
                self._measure(k, *built[k.label])
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

    def _accel(self) -> dict[str, object]:
        for p in self.pipelines.values():
            if p.report.accel:
                return p.report.accel
        return {}

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
        return [
            f"# XDP_DROP cost per packet: base vs {self.key} (xdp_stats off / on)",
            "",
            bench_report.accel_line(self._accel()),
            f"Kernels: base = {kernel(base)}; patched = {kernel(patched)}.",
            f"{o.runs} runs per configuration; BPF_PROG_TEST_RUN repeat {o.repeat}; "
            f"pktgen {o.pktgen_count} frames of 64 bytes per run.",
            f"Host load average (1/5/15 min): start {self._fmt_load('start')}, "
            f"end {self._fmt_load('end')}.",
        ]

    def _fmt_load(self, when: str) -> str:
        return "/".join(f"{x:.2f}" for x in self.load.get(when, []))

    def _report(self, code: ExitCode, error: str) -> ExitCode:
        rows = bench_report.summarize(self.samples) if self.samples else []
        table = bench_report.render_table(rows, self._header()) if rows else ""
        if table:
            (self.results / "table.md").write_text(table)
            title = f"XDP_DROP ns/packet, {str(self._accel().get('accel', '?')).upper()} guest"
            try:
                bench_report.plot(rows, self.samples, self.results / "bench.png", title)
            except ImportError as exc:
                self.errors.append(f"no plot: {exc} (pip install matplotlib)")
        problems = [*self.errors, *([error] if error else [])]
        if not self.samples and code == ExitCode.OK:
            code = ExitCode.INFRA
            problems.append("no samples")
        verdict = "OK" if code == ExitCode.OK else "FAIL"
        data = {
            "command": shlex.join(["harness", *sys.argv[1:]]),
            "series": self.opts.series,
            "accel": self._accel(),
            "params": {
                "runs": self.opts.runs,
                "repeat": self.opts.repeat,
                "pktgen_count": self.opts.pktgen_count,
            },
            "kernels": {
                label: {
                    "series": [s.name for s in p.stack],
                    "kernel": p.report.kernel,
                    "config_hash": p.report.config_hash,
                    "timings": p.report.timings,
                    "splats": [s.summary() for s in p.report.splats],
                }
                for label, p in self.pipelines.items()
            },
            "host_load": self.load,
            "summary": [asdict(r) for r in rows],
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
