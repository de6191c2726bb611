"""Fixtures of the xdp-stats suite: counter access, topologies, programs, tracing, ynl.

Counting is per device (xdp-stats-set): a test enables it on the devices it
looks at, which are its own (fresh namespaces), so it starts from zeroed
counters and expects exact values. ``stats`` disables counting again at
teardown on what it enabled that outlives the test's namespaces (the
guest's virtio NICs).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from xdplib import bpfobj, nics, topology, xdp_attach
from xdplib.netns import NetNS, Port, inside
from xdplib.tracefs import TraceInstance
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import XdpStatsReader
from xscommon import AttachFn, TraceFn, VerdictProg, YnlResult

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
def virtio_loop(make_netns: Callable[[], NetNS]) -> Iterator[nics.VirtioLoop]:
    """The guest's two looped virtio_net NICs (xdplib.nics.virtio_loop); a failure
    if the guest has none."""
    try:
        with nics.virtio_loop(make_netns) as loop:
            yield loop
    except nics.NoVirtioLoop as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def stats(virtio_loop_first: None) -> Iterator[XdpStatsReader]:
    """xdp-stats-get/-set through one socket per namespace; counting enabled through it
    is disabled again at teardown where the device still exists."""
    reader = XdpStatsReader()
    yield reader
    reader.close()


@pytest.fixture
def virtio_loop_first(request: pytest.FixtureRequest) -> None:
    """Set up the virtio NICs (when a test uses them) before ``stats``, so that ``stats``
    disables counting on them before they go back to the initial namespace."""
    if "virtio_loop" in request.fixturenames:
        request.getfixturevalue("virtio_loop")


@pytest.fixture
def attach() -> AttachFn:
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


@pytest.fixture
def attach_pass(
    pass_prog: Callable[[], bpfobj.BpfObject], attach: AttachFn
) -> Callable[[Port], bpfobj.BpfObject]:
    """``attach_pass(port)``: a fresh XDP_PASS program, native, on the port (veth needs
    one on a peer to take XDP_TX and redirected frames); returns its object."""

    def _attach(port: Port) -> bpfobj.BpfObject:
        obj = pass_prog()
        attach(port, obj.prog_fd("xdp_stats_pass"), XdpMode.NATIVE)
        return obj

    return _attach


@pytest.fixture
def trace(kernel_filesystems: dict[str, str]) -> Iterator[TraceFn]:
    """``trace("xdp/xdp_redirect_err", ...)``: a private tracefs instance recording those
    events, removed at teardown."""
    with ExitStack() as stack:
        count = 0

        def _trace(*events: str) -> TraceInstance:
            nonlocal count
            count += 1
            return stack.enter_context(TraceInstance(f"xdp-stats-{count}", list(events)))

        yield _trace


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
def ynl(kernel_tree: Path) -> Callable[..., YnlResult]:
    """``ynl(ns, "--do", "xdp-stats-get", json_arg={"ifindex": 3})``: the tree's ynl CLI
    run in ``ns`` with --output-json. Without jsonschema the spec is not validated."""
    if importlib.util.find_spec("yaml") is None:
        pytest.fail(
            f"{sys.executable} lacks PyYAML, which the kernel's ynl CLI needs", pytrace=False
        )
    schema = [] if importlib.util.find_spec("jsonschema") else ["--no-schema"]

    def _run(ns: NetNS, *args: str, json_arg: dict[str, Any] | None = None) -> YnlResult:
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
        return YnlResult(res.returncode, res.stdout, res.stderr)

    return _run


# Run last: the toggle tests hammer static-key patching under traffic; should that bring
# the kernel down, every other test of the suite has reported already.
_LAST = "test_toggle.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == _LAST and item.path.parent.name == "xdp-stats")
