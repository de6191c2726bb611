"""`harness bisect`'s command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.bisect_run import BisectOptions, run_bisect
from harness.cli_args import accel_arg, kernel_tree_arg, results_dir_arg
from harness.paths import CacheLayout, default_cache


def add_args(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--series", "-s", metavar="NAME", help="the series in patches/NAME/")
    what.add_argument("--mbox", type=Path, metavar="FILE", help="a posting's thread as an mbox")
    p.add_argument(
        "-k",
        dest="keyword",
        required=True,
        metavar="TEST",
        help="the failing test (pytest -k, over the suites of the series' stack)",
    )
    p.add_argument(
        "--depends-on",
        action="append",
        default=[],
        metavar="SERIES",
        help="with --mbox: a series of this repo the posting goes on top of (repeat)",
    )
    p.add_argument(
        "--good",
        type=int,
        default=0,
        metavar="N",
        help="the patches up to N are known good (default 0: the base)",
    )
    p.add_argument(
        "--check-base",
        action="store_true",
        help="test the base (with the dependencies) too, first, instead of assuming it good",
    )
    kernel_tree_arg(p, "a kernel git tree's HEAD as the base")
    accel_arg(p)
    p.add_argument("--timeout", type=float, metavar="SEC", help="wall-clock limit per VM")
    results_dir_arg(p)


def cmd_bisect(args: argparse.Namespace, repo: Path) -> int:
    opts = BisectOptions(
        keyword=args.keyword,
        series=args.series,
        mbox=args.mbox,
        depends_on=tuple(n.strip() for i in args.depends_on for n in i.split(",") if n.strip()),
        kernel_tree=args.kernel_tree,
        good=args.good,
        check_base=args.check_base,
        accel=args.accel,
        timeout=args.timeout,
        results_root=args.results_dir,
    )
    return int(run_bisect(opts, repo, CacheLayout(default_cache())))
