"""Fixtures shared by the baseline tests: topologies, attach, netdev queries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from xdplib import bpfobj, topology, xdp_attach
from xdplib.netns import NetNS, Port
from xdplib.xdp_attach import XdpMode


@pytest.fixture
def veth_pair(make_netns: Callable[[], NetNS]) -> topology.VethPair:
    return topology.veth_pair(make_netns)


@pytest.fixture
def redirect_topology(make_netns: Callable[[], NetNS]) -> topology.RedirectTopology:
    return topology.redirect_topology(make_netns)


@pytest.fixture
def attach_xdp(load_bpf: Callable[..., bpfobj.BpfObject]) -> Callable[[Port, str, XdpMode], int]:
    """``attach_xdp(port, "xdp_drop", mode)``: load, attach, verify; returns the prog id.

    The program attached is the one named like the object's stem. The
    attachment goes away with the namespace or device at teardown.
    """

    def _attach(port: Port, stem: str, mode: XdpMode) -> int:
        fd = load_bpf(stem).prog_fd(stem)
        return xdp_attach.attach_verified(
            port.ns.ipr, port.ifindex, fd, mode, what=f"{stem} on {port}"
        )

    return _attach
