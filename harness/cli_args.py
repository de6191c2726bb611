"""Options several commands share, each defined once: the same name, choices, default
and help everywhere (a command may say what the option means for it)."""

from __future__ import annotations

import argparse
from pathlib import Path

ACCELS = ("auto", "kvm", "tcg")
ACCEL_HELP = "auto probes whether KVM really works and falls back to TCG"
KERNEL_TREE_HELP = "use this kernel git tree's HEAD instead of Debian's linux-source-6.12"


def accel_arg(
    p: argparse.ArgumentParser, help: str = ACCEL_HELP, default: str | None = "auto"
) -> None:
    p.add_argument("--accel", choices=ACCELS, default=default, help=help)


def kernel_tree_arg(p: argparse.ArgumentParser, help: str = KERNEL_TREE_HELP) -> None:
    p.add_argument("--kernel-tree", type=Path, metavar="PATH", help=help)


def boot_timeout_arg(
    p: argparse.ArgumentParser, help: str = "limit for a guest to reach the test runner"
) -> None:
    p.add_argument("--boot-timeout", type=float, metavar="SEC", help=help)


def verbose_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", "-v", action="store_true", help="echo the whole guest console")


def results_dir_arg(
    p: argparse.ArgumentParser,
    help: str = "where results/<run-id>/ goes (default: <repo>/results)",
) -> None:
    p.add_argument("--results-dir", type=Path, metavar="DIR", help=help)
