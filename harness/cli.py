"""The `harness` command line."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from harness import __version__, bisect_cli, bundle, compare_render, proofs, reproduce, shards
from harness.bench import BASE_SERIES, Bench, BenchOptions
from harness.check_intake import CheckOptions
from harness.check_patches import check_patches
from harness.check_posting import run_check
from harness.cli_args import (
    ACCEL_HELP,
    accel_arg,
    boot_timeout_arg,
    kernel_tree_arg,
    results_dir_arg,
    verbose_arg,
)
from harness.errors import ExitCode, HarnessError, UsageError, unexpected
from harness.guest_image import IMAGE_ENV, config_path, default_image
from harness.paths import CacheLayout, default_cache, find_repo, run_stamp
from harness.pipeline import Options, Pipeline
from harness.results_load import open_results
from harness.series import Catalog, selftest_suites
from harness.series import kselftests as series_kselftests
from harness.shards import default_jobs
from harness.shell_session import open_shell
from harness.ui import progress, result


def _series_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--series",
        "-s",
        action="append",
        default=[],
        metavar="NAME",
        help="series to apply (repeat, or comma-separate, to stack; dependencies come along)",
    )
    p.add_argument(
        "--all",
        dest="all_series",
        action="store_true",
        help="stack every series: one build, one boot, every suite",
    )
    kernel_tree_arg(p)
    p.add_argument(
        "--debug-config",
        action="store_true",
        help="add kernel-config/debug.config (KASAN, lockdep, ...)",
    )
    p.add_argument("--rebuild", action="store_true", help="run make even if nothing changed")
    results_dir_arg(p)


def _image_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--image",
        type=Path,
        metavar="DIR",
        help="boot the guest with this root filesystem (vm-images/build-rootfs.sh DIR) "
        f'instead of the host\'s (default: ${IMAGE_ENV}, else image = "DIR" in '
        f"{config_path()})",
    )
    g.add_argument(
        "--no-image",
        action="store_true",
        help=f"the host's root filesystem, whatever ${IMAGE_ENV} or the config file say",
    )


def guest_image_arg(args: argparse.Namespace) -> Path | None:
    """The --image of a command, else the default, said where it came from."""
    if getattr(args, "no_image", False):
        return None
    if getattr(args, "image", None) is not None:
        return Path(args.image)
    image, origin = default_image()
    if image is not None:
        progress(f"guest image {image} (from {origin}; --no-image boots the host's root)")
    return image


def _vm_args(p: argparse.ArgumentParser) -> None:
    _image_args(p)
    accel_arg(p)
    p.add_argument("--timeout", type=float, metavar="SEC", help="wall-clock limit for the VM")
    boot_timeout_arg(p)
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression")
    p.add_argument(
        "--allow-skips", action="store_true", help="do not fail the run on skipped tests"
    )
    verbose_arg(p)
    p.add_argument(
        "--rerun-failures",
        action="store_true",
        help="run the tests that failed once more, in one fresh guest: one that passes "
        "then is reported flaky (and fails nothing), one that fails again stays failed",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=_positive,
        metavar="N",
        help="guests side by side, the test files and kselftests dealt between them; "
        "1: one guest runs everything (default: one more than the host's CPUs, here "
        f"{default_jobs()}: a TCG guest leaves part of its core idle)",
    )


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"want a number of guests (1 or more), got {text!r}")
    return n


def _bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--series",
        "-s",
        action="append",
        default=[],
        metavar="NAME",
        help="the series to compare with the base (default: xdp-stats; repeat to stack)",
    )
    p.add_argument(
        "--against",
        action="append",
        default=[],
        metavar="NAME",
        help="compare with this stack of series instead of the unpatched base, both "
        "kernels with statistics off and on (e.g. --series multi-buffer --against "
        "feature-flags,xdp-stats)",
    )
    d = BenchOptions()
    p.add_argument(
        "--runs", type=int, default=d.runs, help=f"runs per configuration (default {d.runs})"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=d.repeat,
        help=f"BPF_PROG_TEST_RUN repetitions per run (default {d.repeat})",
    )
    p.add_argument(
        "--pktgen-count",
        type=int,
        default=d.pktgen_count,
        metavar="N",
        help=f"frames pktgen sends per run (default {d.pktgen_count})",
    )
    p.add_argument(
        "--no-icount",
        action="store_true",
        help="skip the guest instruction counts (QEMU -icount boots); ns only",
    )
    p.add_argument(
        "--no-ns", action="store_true", help="skip the real-time boots; instruction counts only"
    )
    kernel_tree_arg(p)
    p.add_argument("--rebuild", action="store_true", help="run make even if nothing changed")
    results_dir_arg(p)
    accel_arg(p)
    p.add_argument("--timeout", type=float, metavar="SEC", help="wall-clock limit per VM")
    boot_timeout_arg(p)
    verbose_arg(p)


def _check_args(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--mbox", type=Path, metavar="FILE", help="the posting's thread as an mbox")
    what.add_argument(
        "--range", metavar="BASE..HEAD", help="commits of --kernel-tree, as git format-patch"
    )
    what.add_argument("--series", "-s", metavar="NAME", help="the series in patches/NAME/")
    kernel_tree_arg(
        p,
        "a kernel git tree: the base (its HEAD, the posting's base-commit or --base), "
        "Fixes: looked up in its history (default: Debian's linux-source-6.12)",
    )
    p.add_argument("--base", metavar="REV", help="check on this revision of --kernel-tree")
    p.add_argument(
        "--depends-on",
        action="append",
        default=[],
        metavar="SERIES",
        help="a series of this repo the posting goes on top of (repeat, or comma-separate)",
    )
    p.add_argument(
        "--allow",
        type=Path,
        metavar="FILE",
        help='checkpatch types justified, with why: TOML [checkpatch] allow = {TYPE = "why"} '
        "(a series.toml works)",
    )
    p.add_argument(
        "--no-build",
        action="store_true",
        help="only the checks that need no tree: form, Signed-off-by, Fixes:, checkpatch, "
        "UAPI mirror by the patches' lines (seconds)",
    )
    p.add_argument(
        "--scripts",
        type=Path,
        metavar="DIR",
        help="take checkpatch.pl from DIR (a kernel's scripts/) instead of the base's",
    )
    results_dir_arg(p)


def _check_vm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--per-patch-tests",
        action="store_true",
        help="at every patch, boot its kernel and run the baseline suite (per patch: an "
        "incremental build and a boot, ~6-10 min on 2 cores under TCG)",
    )
    p.add_argument(
        "--no-rerun-failures",
        dest="rerun_failures",
        action="store_false",
        help="with --per-patch-tests: do not rerun failed tests in a fresh guest",
    )
    accel_arg(p, "with --per-patch-tests: " + ACCEL_HELP)


def cmd_check(args: argparse.Namespace, repo: Path) -> int:
    opts = CheckOptions(
        mbox=args.mbox,
        range=args.range,
        series=args.series,
        kernel_tree=args.kernel_tree,
        base=args.base,
        depends_on=tuple(n.strip() for i in args.depends_on for n in i.split(",") if n.strip()),
        allow=args.allow,
        no_build=args.no_build,
        scripts=args.scripts,
        results_root=args.results_dir,
        per_patch_tests=args.per_patch_tests,
        rerun_failures=args.rerun_failures,
        accel=args.accel,
    )
    return int(run_check(opts, repo, CacheLayout(default_cache())))


def cmd_proofs(args: argparse.Namespace, repo: Path) -> int:
    base = Options(
        command="run",
        series=[args.series],
        kernel_tree=args.kernel_tree,
        accel=args.accel,
        boot_timeout=args.boot_timeout,
        results_root=args.results_dir,
        verbose=args.verbose,
    )
    cache = CacheLayout(default_cache())
    code, outcomes = proofs.prove(
        base, args.proof, lambda opts: proofs.run_pipeline(opts, repo, cache)
    )
    text = proofs.table(outcomes)
    out = (args.results_dir or repo / "results") / f"{run_stamp()}-proofs.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# harness proofs: {args.series}\n\n{text}\n")
    result(text)
    result(f"proofs: {sum(o.holds for o in outcomes)} of {len(outcomes)} hold; {out}")
    return int(code)


def cmd_bench(args: argparse.Namespace, repo: Path) -> int:
    series = [n.strip() for item in args.series for n in item.split(",") if n.strip()]
    against = [n.strip() for item in args.against for n in item.split(",") if n.strip()]
    opts = BenchOptions(
        series=series or ["xdp-stats"],
        against=against or [BASE_SERIES],
        runs=args.runs,
        repeat=args.repeat,
        pktgen_count=args.pktgen_count,
        clocks=tuple(c for c, skip in (("icount", args.no_icount), ("ns", args.no_ns)) if not skip),
        accel=args.accel,
        timeout=args.timeout,
        boot_timeout=args.boot_timeout,
        results_root=args.results_dir,
        kernel_tree=args.kernel_tree,
        rebuild=args.rebuild,
        verbose=args.verbose,
    )
    return int(Bench(opts, repo, CacheLayout(default_cache())).execute())


_RESULTS_HELP = "a results directory, its results.json, or a bundle (results-<run-id>.tar.zst)"


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=f"write {compare_render.HTML_NAME} here (default: beside B)",
    )
    p.add_argument(
        "--all", dest="show_identical", action="store_true", help="list identical tests too"
    )


def _reproduce_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", type=Path, metavar="RESULTS", help=_RESULTS_HELP)
    accel_arg(p, "instead of the accelerator the run used", default=None)
    kernel_tree_arg(p, "the base: a kernel git tree at the recorded commit (default: as recorded)")
    p.add_argument("--jobs", "-j", type=_positive, metavar="N", help="instead of the run's")
    p.add_argument("--timeout", type=float, metavar="SEC", help="instead of the run's")
    boot_timeout_arg(p, "instead of the run's")
    results_dir_arg(p, "where the new results/<run-id>/ goes (default: <repo>/results)")
    p.add_argument(
        "--allow-unrecorded",
        action="store_true",
        help="results from before the harness recorded patch digests and options: rerun "
        "their series with this checkout's patches, unverified",
    )
    verbose_arg(p)
    p.add_argument("--bundle", action="store_true", help="bundle the new results too")
    _image_args(p)
    _compare_args(p)


def _stdout_console() -> Console:
    """Tables on stdout; wide enough for test ids when it is not a terminal."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def cmd_compare(args: argparse.Namespace) -> int:
    with open_results(args.a) as a, open_results(args.b) as b:
        code = compare_render.compare_and_show(
            a, b, args.out, _stdout_console(), args.show_identical
        )
    return int(code)


def cmd_reproduce(args: argparse.Namespace, repo: Path) -> int:
    ov = reproduce.Overrides(
        accel=args.accel,
        kernel_tree=args.kernel_tree,
        jobs=args.jobs,
        timeout=args.timeout,
        boot_timeout=args.boot_timeout,
        results_root=args.results_dir,
        verbose=args.verbose,
        allow_unrecorded=args.allow_unrecorded,
        # the recorded userspace decides: the default image only for a run made on one
        image=None if args.no_image else args.image,
        default_image=None if args.no_image or args.image else default_image()[0],
    )
    console = _stdout_console()
    with open_results(args.results) as original:
        outcome = reproduce.reproduce(
            original,
            repo,
            reproduce.pipeline_run(repo, CacheLayout(default_cache())),
            lambda a, b: compare_render.compare_and_show(
                a, b, args.out, console, args.show_identical
            ),
            ov,
            progress,
        )
    if args.bundle and outcome.results is not None:
        _write_bundle(outcome.results, repo)
    return int(outcome.code)


def _write_bundle(results: Path, repo: Path) -> None:
    if not (results / "results.json").is_file():
        progress(f"no results.json in {results}: no bundle written")
        return
    path = bundle.write(results, repo)
    result(f"bundle: {path}")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Apply XDP patch series to Linux 6.12, build, boot in virtme-ng, test.",
        epilog="exit codes: 0 pass; 1 test failure, kernel splat or failed check; 2 bad usage "
        "or input "
        "(a build broken by the series too); 3 infrastructure (missing tool, VM did not boot, "
        "timeout, unexpected error)",
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show every series, its patches and dependencies")
    p = sub.add_parser(
        "costs",
        help=f"seconds per test file and kselftest of a run, as {shards.COST_HINTS} "
        "(how --jobs deals tests on a machine without previous runs)",
    )
    p.add_argument("results", type=Path, metavar="RESULTS", help=_RESULTS_HELP)
    p = sub.add_parser("run", help="source, apply, config, build, boot, test, report")
    _series_args(p)
    _vm_args(p)
    p.add_argument(
        "--bundle",
        action="store_true",
        help="after the run, write results-<run-id>.tar.zst beside the results directory: "
        "the results, the series' patches, the config fragments",
    )
    p = sub.add_parser("build", help="stop after the build")
    _series_args(p)
    p = sub.add_parser("test", help="boot the kernel built before and run the tests")
    _series_args(p)
    _vm_args(p)
    p = sub.add_parser(
        "check-patches",
        help="apply the series one patch at a time: each must build; checkpatch --strict",
    )
    _series_args(p)
    p = sub.add_parser(
        "check",
        help="a posting (mbox, git range or series) checked per patch as the netdev/bpf CI "
        "does: applies, builds without new W=1 warnings, checkpatch, kernel-doc, "
        "Signed-off-by, Fixes:, UAPI mirror",
    )
    _check_args(p)
    _check_vm_args(p)
    p = sub.add_parser(
        "bisect",
        help="the first patch of a series (or an mbox) at which a test fails: each point "
        "tested built and booted, binary search",
    )
    bisect_cli.add_args(p)
    p = sub.add_parser(
        "bench",
        help="XDP_DROP guest instructions and ns per packet: the base kernel vs the series "
        "with its XDP statistics off and on",
    )
    _bench_args(p)
    p = sub.add_parser(
        "compare",
        help="two results side by side: tests newly failing, newly passing, missing; "
        "bench figures B/A (exit 0: the outcomes match, 1: they differ)",
    )
    p.add_argument("a", type=Path, metavar="A", help=_RESULTS_HELP)
    p.add_argument("b", type=Path, metavar="B", help=_RESULTS_HELP)
    _compare_args(p)
    p = sub.add_parser(
        "reproduce",
        help="check that this checkout builds what a run tested (else exit 2, naming what "
        "differs), run the same tests again and compare",
    )
    _reproduce_args(p)
    p = sub.add_parser(
        "proofs",
        help="live proofs of the failure paths, each a real guest meant to fail: a WARNING, "
        "a panic, a hang past the timeout, a guest that never reaches the runner (exit 0: "
        "each run ended with its exit code, the problem named, the console kept)",
    )
    p.add_argument("--series", "-s", default="baseline", help="the stack (default: baseline)")
    p.add_argument(
        "--proof",
        action="append",
        default=[],
        choices=[pr.name for pr in proofs.PROOFS],
        help="only this proof (repeat for several; default: all)",
    )
    kernel_tree_arg(p)
    results_dir_arg(p)
    accel_arg(p)
    boot_timeout_arg(p)
    verbose_arg(p)
    p = sub.add_parser("shell", help="an interactive guest on the series' kernel")
    _series_args(p)
    _image_args(p)
    accel_arg(p)
    return parser


def cmd_list(repo: Path) -> int:
    """Every series that loads; then the manifests that do not, each named (exit 2)."""
    catalog = Catalog(repo)
    bad: list[HarnessError] = []
    for name in catalog:
        try:
            s = catalog[name]
        except HarnessError as exc:
            bad.append(exc)
            continue
        deps = ", ".join(s.depends_on) or "none"
        print(f"{s.name}: {s.description}")
        print(
            f"  base {s.base or '?'}; depends on: {deps}; config: "
            f"{', '.join(['base.config', *s.config])}; selftests: {', '.join(s.selftests)}"
        )
        if s.tools:
            print(f"  tools: {', '.join(s.tools)}")
        if s.bpf_selftests:
            print(f"  bpf-selftests: {', '.join(s.bpf_selftests)}")
        if s.kselftests:
            print(f"  kselftests: {', '.join(t.name for t in s.kselftests)}")
        if not s.patches:
            print("  (no patches)")
        for p in s.patches:
            print(f"  {p.name}: {s.patch_subject(p)}")
    for err in bad:
        print(f"error: {err}", file=sys.stderr)
    return int(ExitCode.USAGE) if bad else 0


def cmd_costs(args: argparse.Namespace, repo: Path) -> int:
    """A run's seconds per unit of every series' suites and kselftests, on stdout."""
    catalog = Catalog(repo)
    stack = [catalog[name] for name in catalog]
    candidates = shards.units(
        repo, selftest_suites(stack), [t for t, _ in series_kselftests(stack)]
    )
    with open_results(args.results) as loaded:
        try:
            durations = shards.test_durations(loaded.data.get("tests") or [])
        except (KeyError, ValueError, TypeError) as exc:
            raise UsageError(
                f"{args.results}: a test without a name or duration ({exc})",
                "give the results.json harness wrote",
            ) from exc
        if not durations:
            raise UsageError(
                f"{args.results}: no tests in its results", "give a run that ran tests"
            )
        run = str(loaded.data.get("run_id", ""))
        print(shards.costs_document(durations, candidates, run), end="")
    return 0


# When several series are checked, the exit code is the gravest of theirs.
_GRAVITY = (ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.INFRA)


def check_every_series(opts: Options, repo: Path) -> ExitCode:
    """`check-patches --all`: every series with patches, each on top of its
    dependencies, one after the other; the exit code is the gravest of theirs."""
    catalog = Catalog(repo)
    names = [n for n in catalog if catalog[n].patches]
    worst = ExitCode.OK
    for name in names:
        one = dataclasses.replace(opts, series=[name], all_series=False)
        code = check_patches(Pipeline(one, repo, CacheLayout(default_cache())))
        result(f"check-patches {name}: exit {int(code)}")
        worst = max(worst, code, key=_GRAVITY.index)
    return worst


def tools_on_path(environ: dict[str, str] | None = None) -> None:
    """Put the directory of this interpreter first on PATH.

    The tools installed with the harness (vng from virtme-ng, pytest) live next to
    the interpreter: `.venv/bin/harness` must find `.venv/bin/vng` without the venv
    being activated."""
    env = os.environ if environ is None else environ
    bindir = str(Path(sys.executable).parent)
    parts = env.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        env["PATH"] = os.pathsep.join([bindir, *(p for p in parts if p)])


@contextlib.contextmanager
def command_process() -> Iterator[None]:
    """What one command changes in this process, undone when it returns: PATH
    (see tools_on_path) and the SIGTERM handler. `main()` called in-process (an
    embedding tool, the tests) leaves the caller's environment as it found it."""
    saved_path = os.environ.get("PATH")
    saved_term = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _terminated)
        tools_on_path()
        yield
    finally:
        if saved_term is not None:  # None: set outside Python, cannot be put back
            signal.signal(signal.SIGTERM, saved_term)
        if saved_path is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved_path


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (a CI job cancelled, `kill`): as Ctrl-C, so that every guest is
    killed, its console kept and the report written on the way out."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    with command_process():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if getattr(args, "all_series", False) and args.series:
        parser.error("--all and --series exclude each other")
    try:
        if args.command == "compare":
            return cmd_compare(args)
        repo = find_repo()
        if args.command == "reproduce":
            return cmd_reproduce(args, repo)
        if args.command == "list":
            return cmd_list(repo)
        if args.command == "costs":
            return cmd_costs(args, repo)
        if args.command == "bench":
            return cmd_bench(args, repo)
        if args.command == "check":
            return cmd_check(args, repo)
        if args.command == "bisect":
            return bisect_cli.cmd_bisect(args, repo)
        if args.command == "proofs":
            return cmd_proofs(args, repo)
        series = [n.strip() for item in args.series for n in item.split(",") if n.strip()]
        opts = Options(
            command=args.command,
            series=series,
            all_series=args.all_series,
            kernel_tree=args.kernel_tree,
            accel=getattr(args, "accel", "auto"),
            timeout=getattr(args, "timeout", None),
            boot_timeout=getattr(args, "boot_timeout", None),
            results_root=args.results_dir,
            rebuild=args.rebuild,
            allow_skips=getattr(args, "allow_skips", False),
            keyword=getattr(args, "keyword", None),
            debug_config=args.debug_config,
            verbose=getattr(args, "verbose", False),
            jobs=getattr(args, "jobs", None) or default_jobs(),
            rerun_failures=getattr(args, "rerun_failures", False),
            image=guest_image_arg(args) if args.command in ("run", "test", "shell") else None,
        )
        if args.command == "check-patches" and args.all_series:
            return int(check_every_series(opts, repo))
        pipeline = Pipeline(opts, repo, CacheLayout(default_cache()))
        if args.command == "shell":
            return open_shell(pipeline)
        if args.command == "check-patches":
            return int(check_patches(pipeline))
        code = pipeline.execute()
        if getattr(args, "bundle", False):
            _write_bundle(pipeline.results, repo)
        return int(code)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except Exception as exc:  # not one of ours: still exit 3 (infrastructure), never 1
        traceback.print_exc()
        print(f"error: {unexpected(exc)}", file=sys.stderr)
        return int(ExitCode.INFRA)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INFRA)


if __name__ == "__main__":
    sys.exit(main())
