"""Runs inside the guest: record what the guest is, then one pytest over every suite
(and the stack's kselftests, through harness.kselftest_plugin).

Kept import-light: under TCG every import costs seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from harness.markers import GUEST_DONE, GUEST_START


def guest_info() -> dict[str, object]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text().strip()
        except OSError:
            return ""

    return {
        "kernel_release": platform.release(),
        "kernel_version": read("/proc/version"),
        "cmdline": read("/proc/cmdline"),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def selftest_env(bpf_objdir: Path, tools: list[str], kernel_tree: Path | None) -> dict[str, str]:
    """The XDP_SELFTEST_* variables the suites read (see selftests/README.md)."""
    env = {"XDP_SELFTEST_BPF_OBJDIR": str(bpf_objdir)}
    for tool in tools:
        name, sep, path = tool.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--tool wants NAME=PATH, got {tool!r}")
        env[f"XDP_SELFTEST_{name.upper()}"] = path
    if kernel_tree is not None:
        env["XDP_SELFTEST_KERNEL_TREE"] = str(kernel_tree)
    return env


def main(argv: list[str] | None = None) -> int:
    print(GUEST_START, flush=True)
    p = argparse.ArgumentParser(prog="python -m harness.guest")
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--bpf-objdir", type=Path, required=True)
    p.add_argument("--suite", action="append", default=[], help="a suite: selftests/SUITE")
    p.add_argument(
        "--test",
        action="append",
        default=[],
        metavar="PATH",
        help="a test file of a suite",
    )
    p.add_argument(
        "--units",
        type=Path,
        metavar="FILE",
        help='JSON {"tests": [PATH...], "kselftests": [COLLECTION:TEST...]}: more of both '
        "(harness --jobs: not on this command line, which vng passes in the kernel's)",
    )
    p.add_argument(
        "--tool",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a tool built from the tree under test, as XDP_SELFTEST_<NAME>",
    )
    p.add_argument(
        "--kernel-tree",
        type=Path,
        metavar="PATH",
        help="source tree of the kernel under test, as XDP_SELFTEST_KERNEL_TREE",
    )
    p.add_argument(
        "--kselftest",
        action="append",
        default=[],
        metavar="COLLECTION:TEST",
        help="a kselftest of --kernel-tree to run, each KTAP result a test",
    )
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.units is not None:
        units = json.loads(args.units.read_text())
        args.test += units.get("tests", [])
        args.kselftest += units.get("kselftests", [])
    if args.kselftest and args.kernel_tree is None:
        p.error("--kselftest needs --kernel-tree")
    if not (args.suite or args.test or args.kselftest):
        p.error("nothing to run: give --suite, --test or --kselftest")
    (args.results / "guest.json").write_text(json.dumps(guest_info(), indent=2))
    os.environ.update(selftest_env(args.bpf_objdir, args.tool, args.kernel_tree))
    extra = [a for a in args.pytest_args if a != "--"]
    import pytest

    plugins: list[object] = []
    if args.kselftest:
        from harness import kselftest_plugin, kselftests

        tests = [kselftests.parse_name(name) for name in args.kselftest]
        logdir = args.results / kselftest_plugin.LOG_DIR
        plugins.append(kselftest_plugin.Plugin(tests, args.kernel_tree, logdir))
    paths = [*[f"selftests/{s}" for s in args.suite], *args.test]
    with tempfile.TemporaryDirectory() as nothing:
        # Only kselftests (the plugin adds them): a path with nothing to collect, or
        # pytest would collect the repository's testpaths.
        rc = int(
            pytest.main(
                [
                    "-v",
                    "-rfEs",
                    "-p",
                    "no:cacheprovider",
                    f"--junitxml={args.results / 'junit.xml'}",
                    *(paths or [f"--rootdir={os.getcwd()}", nothing]),
                    *extra,
                ],
                plugins=plugins,
            )
        )
    print(f"{GUEST_DONE}{rc}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
