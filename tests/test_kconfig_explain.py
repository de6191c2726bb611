"""Explaining a dropped symbol from the kernel's Kconfig files (a small fake source tree)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ExitCode
from harness.kconfig import Dropped, dropped_error, kconfig_definition

NET_KCONFIG = """\
# SPDX-License-Identifier: GPL-2.0-only
menuconfig NET
\tbool "Networking support"
\tselect NLATTR
\thelp
\t  Unless you really know what you are doing, you should say Y here.

if NET

config XDP_SOCKETS
\tbool "XDP sockets"
\tdepends on BPF_SYSCALL
\tdefault n
\thelp
\t  XDP sockets allows a channel between XDP programs and
\t  userspace applications.

config XDP_SOCKETS_DIAG
\ttristate "XDP sockets: monitoring interface"
\tdepends on XDP_SOCKETS
\tdepends on INET && !ARCH_FOO
\tdefault n

endif # NET
"""

BPF_KCONFIG = """\
config BPF_SYSCALL
\tbool "Enable bpf() system call"
\tselect BPF
\tdefault n
"""


@pytest.fixture
def srctree(tmp_path: Path) -> Path:
    tree = tmp_path / "linux"
    (tree / "net" / "xdp").mkdir(parents=True)
    (tree / "net" / "Kconfig").write_text(NET_KCONFIG)
    (tree / "kernel" / "bpf").mkdir(parents=True)
    (tree / "kernel" / "bpf" / "Kconfig").write_text(BPF_KCONFIG)
    # Documentation examples are not definitions.
    (tree / "Documentation" / "kbuild").mkdir(parents=True)
    (tree / "Documentation" / "kbuild" / "Kconfig.example").write_text(
        "config XDP_SOCKETS\n\tdepends on NONSENSE\n"
    )
    return tree


def test_definition_with_depends_lines(srctree: Path) -> None:
    assert kconfig_definition(srctree, "CONFIG_XDP_SOCKETS_DIAG") == (
        Path("net/Kconfig"),
        ["depends on XDP_SOCKETS", "depends on INET && !ARCH_FOO"],
    )


def test_definition_stops_at_next_config(srctree: Path) -> None:
    assert kconfig_definition(srctree, "XDP_SOCKETS") == (
        Path("net/Kconfig"),
        ["depends on BPF_SYSCALL"],
    )


def test_menuconfig_without_depends(srctree: Path) -> None:
    assert kconfig_definition(srctree, "CONFIG_NET") == (Path("net/Kconfig"), [])


def test_unknown_symbol(srctree: Path) -> None:
    assert kconfig_definition(srctree, "CONFIG_XDP") is None  # a prefix is not a match


def test_dropped_error_explains_each_symbol(srctree: Path, tmp_path: Path) -> None:
    dotconfig = tmp_path / "build" / ".config"
    err = dropped_error(
        [
            Dropped("CONFIG_XDP_SOCKETS_DIAG", "y", "n"),
            Dropped("CONFIG_BPF_SYSCALL", "y", "n"),
            Dropped("CONFIG_XDP_SOKCETS", "y", "n"),
        ],
        srctree,
        dotconfig,
    )
    assert err.exit_code == ExitCode.USAGE
    lines = err.problem.splitlines()
    assert lines[0] == (
        f"3 requested config symbol(s) did not survive configuration (see {dotconfig}):"
    )
    assert lines[1] == (
        "  CONFIG_XDP_SOCKETS_DIAG: requested y, got n (defined in net/Kconfig; "
        "depends on XDP_SOCKETS; depends on INET && !ARCH_FOO)"
    )
    assert lines[2] == ("  CONFIG_BPF_SYSCALL: requested y, got n (defined in kernel/bpf/Kconfig)")
    assert lines[3] == (
        "  CONFIG_XDP_SOKCETS: requested y, got n "
        "(no such symbol in this kernel (a typo, or removed upstream))"
    )
    assert err.fix == "add the missing dependencies to the fragment, or drop the symbol"
    assert str(err).endswith(
        "\n  fix: add the missing dependencies to the fragment, or drop the symbol"
    )
