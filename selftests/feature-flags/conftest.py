"""Fixtures of the feature-flags suite: topologies, netdevsim, links, bpftool.

The netdevsim device is created once per test module (``nsim_device``);
``nsim`` hands it to a test and, at teardown, detaches whatever the test
left attached, puts the advertised features back to netdevsim's default and
lets the driver take native programs again.

Locks (kernel/bpf/xdp_features.c) live in maps and programs, never in a
device, and are never dropped: tests load their objects afresh (load_bpf),
so every test starts with unlocked maps and programs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest
from ffcommon import FREPLACE_FUNCTION, NSIM_DEFAULT_FEATURES, FreplaceFn, Nsim, NsimLinkFn
from xdplib import netdevsim, topology, xdp_attach
from xdplib.bpflink import FreplaceLink, XdpLink
from xdplib.bpfobj import BpfObject
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
    nsim_device.accept_native(True)  # first: with N the driver refuses detaching too
    state = nsim_device.state()
    for mode in (XdpMode.NATIVE, XdpMode.GENERIC, XdpMode.OFFLOAD):
        if state.prog_id_for(mode):
            xdp_attach.detach(nsim_device.port.ns.ipr, nsim_device.port.ifindex, mode)
    nsim_device.knob.write_text(f"{NSIM_DEFAULT_FEATURES:#x}\n")


@pytest.fixture
def nsim_link(nsim: Nsim) -> Iterator[NsimLinkFn]:
    """``nsim_link(prog_fd, flags)``: an XDP link on the netdevsim port, closed at teardown.

    Closed before ``nsim`` cleans up: netlink cannot detach a link's program.
    """
    links: list[XdpLink] = []

    def _make(prog_fd: int, flags: int) -> XdpLink:
        link = XdpLink(prog_fd, nsim.port.ifindex, flags)
        links.append(link)
        return link

    yield _make
    for link in reversed(links):
        link.close()


@pytest.fixture
def attach_extension() -> Iterator[FreplaceFn]:
    """``attach_extension(obj, prog, target_fd, function="ff_stage")``: attach the
    extension program ``prog`` of ``obj`` in place of the dispatcher's
    ``function``; the link is destroyed (the extension detached) at teardown."""
    links: list[FreplaceLink] = []

    def _attach(
        obj: BpfObject, prog: str, target_fd: int, function: str = FREPLACE_FUNCTION
    ) -> FreplaceLink:
        link = FreplaceLink(obj, prog, target_fd, function)
        links.append(link)
        return link

    yield _attach
    for link in reversed(links):
        link.close()


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
