"""Fixtures of the xdp-stats suite: the sysctl, counter readers, topologies, programs.

``net.core.xdp_stats`` is global: every test that changes it gets it back
at teardown (``sysctl``). Counters, once allocated, stay with their device,
so tests compare readings taken before and after what they do, on devices
of their own (fresh namespaces).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from xdplib import bpfobj, topology, xdp_attach
from xdplib.netns import NetNS, Port, inside
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import XdpStatsReader, XdpStatsSysctl
from xscommon import VerdictProg

KERNEL_TREE_ENV = "XDP_SELFTEST_KERNEL_TREE"
YNL_CLI = "tools/net/ynl/cli.py"
NETDEV_SPEC = "Documentation/netlink/specs/netdev.yaml"


@pytest.fixture
def veth_pair(make_netns: Callable[[], NetNS]) -> topology.VethPair:
    return topology.veth_pair(make_netns)


@pytest.fixture
def redirect_topology(make_netns: Callable[[], NetNS]) -> topology.RedirectTopology:
    return topology.redirect_topology(make_netns)


@pytest.fixture
def sysctl() -> Iterator[XdpStatsSysctl]:
    """net.core.xdp_stats, put back to its value at the start of the test."""
    ctl = XdpStatsSysctl()
    try:
        yield ctl
    finally:
        ctl.restore()


@pytest.fixture
def counting(sysctl: XdpStatsSysctl) -> XdpStatsSysctl:
    """Counting on for the test (and back to what it was after)."""
    sysctl.write(1)
    return sysctl


@pytest.fixture
def stats() -> Iterator[XdpStatsReader]:
    """Counters read through one socket per namespace, closed at teardown."""
    reader = XdpStatsReader()
    yield reader
    reader.close()


@pytest.fixture
def attach() -> Callable[[Port, int, XdpMode], int]:
    """``attach(port, prog_fd, mode)``: attach and verify; returns the prog id. The
    attachment goes with the namespace at teardown."""

    def _attach(port: Port, fd: int, mode: XdpMode) -> int:
        return xdp_attach.attach_verified(port.ns.ipr, port.ifindex, fd, mode, what=str(port))

    return _attach


@pytest.fixture
def verdict_prog(load_bpf: Callable[..., bpfobj.BpfObject]) -> Callable[[], VerdictProg]:
    """``verdict_prog()`` loads a fresh instance of progs/xdp_stats_verdict.bpf.c."""
    return lambda: VerdictProg(load_bpf(VerdictProg.STEM))


@pytest.fixture
def pass_prog(load_bpf: Callable[..., bpfobj.BpfObject]) -> Callable[[], bpfobj.BpfObject]:
    """``pass_prog()`` loads progs/xdp_stats_pass.bpf.c (prog ``xdp_stats_pass``)."""
    return lambda: load_bpf("xdp_stats_pass")


@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    """The source tree of the kernel under test (the harness exports it)."""
    path = os.environ.get(KERNEL_TREE_ENV)
    if not path:
        pytest.fail(
            f"{KERNEL_TREE_ENV} is unset: the harness passes the worktree of the kernel under "
            "test (harness.guest --kernel-tree)",
            pytrace=False,
        )
    tree = Path(path)
    for rel in (YNL_CLI, NETDEV_SPEC):
        if not (tree / rel).is_file():
            pytest.fail(f"{KERNEL_TREE_ENV}={tree}: no {rel} there", pytrace=False)
    return tree


@pytest.fixture(scope="session")
def ynl(kernel_tree: Path) -> Callable[..., Any]:
    """``ynl(ns, "--do", "xdp-stats-get", json={"ifindex": 3})``: the tree's ynl CLI run
    in ``ns``, its --output-json parsed. Without jsonschema the spec is not validated."""
    if importlib.util.find_spec("yaml") is None:
        pytest.fail(
            f"{sys.executable} lacks PyYAML, which the kernel's ynl CLI needs", pytrace=False
        )
    schema = [] if importlib.util.find_spec("jsonschema") else ["--no-schema"]

    def _run(ns: NetNS, *args: str, json_arg: dict[str, Any] | None = None) -> Any:
        cmd = [
            sys.executable,
            str(kernel_tree / YNL_CLI),
            "--spec",
            str(kernel_tree / NETDEV_SPEC),
            *schema,
            *args,
            "--output-json",
        ]
        if json_arg is not None:
            cmd += ["--json", json.dumps(json_arg)]
        # The child inherits the calling thread's network namespace.
        with inside(ns):
            res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
        assert res.returncode == 0, (
            f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.strip()} {res.stdout.strip()}"
        )
        return json.loads(res.stdout)

    return _run


# Run last: the toggle tests hammer static-key patching under traffic; should that bring
# the kernel down, every other test of the suite has reported already.
_LAST = "test_toggle.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == _LAST and item.path.parent.name == "xdp-stats")
