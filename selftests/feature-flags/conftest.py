"""Fixtures of the feature-flags suite: topologies, netdev queries, netdevsim, sysctl.

The netdevsim device is created once per test module (``nsim_device``);
``nsim`` hands it to a test and, at teardown, detaches whatever the test
left attached and puts the advertised features back to netdevsim's default.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest
from ffcommon import ENFORCE_SYSCTL, NSIM_DEFAULT_FEATURES, Nsim
from xdplib import netdevsim, topology, xdp_attach
from xdplib.netns import NetNS
from xdplib.tracefs import TraceInstance
from xdplib.xdp_attach import XdpMode

BPFTOOL_ENV = "XDP_SELFTEST_BPFTOOL"


@pytest.fixture
def veth_pair(make_netns: Callable[[], NetNS]) -> topology.VethPair:
    return topology.veth_pair(make_netns)


@pytest.fixture
def redirect_topology(make_netns: Callable[[], NetNS]) -> topology.RedirectTopology:
    return topology.redirect_topology(make_netns)


@pytest.fixture(scope="module")
def nsim_device() -> Iterator[Nsim]:
    """One netdevsim device for the whole module (creating one per test is slow)."""
    host_ns = NetNS.original()
    dev = netdevsim.new_device()
    try:
        yield Nsim(dev, netdevsim.single_port(dev, host_ns))
    finally:
        dev.delete()
        host_ns.remove()


@pytest.fixture
def fresh_nsim() -> Iterator[Nsim]:
    """A netdevsim device of its own for one test, deleted at teardown."""
    host_ns = NetNS.original()
    dev = netdevsim.new_device()
    try:
        yield Nsim(dev, netdevsim.single_port(dev, host_ns))
    finally:
        dev.delete()
        host_ns.remove()


@pytest.fixture
def nsim(nsim_device: Nsim) -> Iterator[Nsim]:
    """The module's netdevsim device, clean: nothing attached, default features."""
    state = nsim_device.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, (
        f"{nsim_device.port} should start a test with nothing attached: {state}"
    )
    yield nsim_device
    state = nsim_device.state()
    for mode in (XdpMode.NATIVE, XdpMode.GENERIC, XdpMode.OFFLOAD):
        if state.prog_id_for(mode):
            xdp_attach.detach(nsim_device.port.ns.ipr, nsim_device.port.ifindex, mode)
    nsim_device.knob.write_text(f"{NSIM_DEFAULT_FEATURES:#x}\n")


@pytest.fixture
def enforce_sysctl() -> Iterator[Callable[[int], None]]:
    """``enforce_sysctl(1)`` sets net.core.xdp_enforce_features; 0 again at teardown.

    The sysctl is global: left at 1 it would change every later native attach.
    """

    def _set(value: int) -> None:
        ENFORCE_SYSCTL.write_text(f"{value}\n")
        now = ENFORCE_SYSCTL.read_text().strip()
        assert now == str(value), f"{ENFORCE_SYSCTL} reads {now!r} after writing {value}"

    try:
        yield _set
    finally:
        ENFORCE_SYSCTL.write_text("0\n")


@pytest.fixture
def link_attach_failed_trace(kernel_filesystems: dict[str, str]) -> Iterator[TraceInstance]:
    """A private tracefs instance recording xdp:bpf_xdp_link_attach_failed.

    BPF_LINK_CREATE does not return the extack to the caller; the kernel
    reports it through this tracepoint (errmsg=<extack>).
    """
    with TraceInstance("xdp-ff-link", ["xdp/bpf_xdp_link_attach_failed"]) as inst:
        yield inst


@pytest.fixture(scope="session")
def bpftool() -> Callable[..., str]:
    """``bpftool("prog", "show", "id", "5")``: run the tree's bpftool, return stdout."""
    path = os.environ.get(BPFTOOL_ENV)
    if not path:
        pytest.fail(
            f"{BPFTOOL_ENV} is unset: the harness passes the bpftool built from the tree "
            'under test (series with tools = ["bpftool"])',
            pytrace=False,
        )
    if not os.access(path, os.X_OK):
        pytest.fail(f"{BPFTOOL_ENV}={path} is not an executable file", pytrace=False)

    def _run(*args: str) -> str:
        res = subprocess.run([path, *args], capture_output=True, text=True, check=False)
        assert res.returncode == 0, (
            f"{path} {' '.join(args)} exited {res.returncode}: {res.stderr.strip()}"
        )
        return res.stdout

    return _run
