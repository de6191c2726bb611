"""The environment harness.guest gives the suites (XDP_SELFTEST_*)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.guest import selftest_env


def test_objdir_tools_and_kernel_tree() -> None:
    env = selftest_env(Path("/c/bpf"), ["bpftool=/c/build/tools/bpftool/bpftool"], Path("/c/src"))
    assert env == {
        "XDP_SELFTEST_BPF_OBJDIR": "/c/bpf",
        "XDP_SELFTEST_BPFTOOL": "/c/build/tools/bpftool/bpftool",
        "XDP_SELFTEST_KERNEL_TREE": "/c/src",
    }


def test_without_tools_or_tree() -> None:
    assert selftest_env(Path("/o"), [], None) == {"XDP_SELFTEST_BPF_OBJDIR": "/o"}


@pytest.mark.parametrize("tool", ["bpftool", "=/x", "bpftool="])
def test_malformed_tool(tool: str) -> None:
    with pytest.raises(ValueError, match="NAME=PATH"):
        selftest_env(Path("/o"), [tool], None)
