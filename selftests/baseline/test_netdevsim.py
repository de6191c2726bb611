"""netdevsim: create a device, read its xdp_features, attach, delete.

drivers/net/netdevsim (6.12): nsim_create() sets xdp_features to
NETDEV_XDP_ACT_HW_OFFLOAD only. nsim_bpf() accepts native programs unless
debugfs ports/<n>/bpf_xdpdrv_accept is off ("driver XDP disabled in
DebugFS"), and offloaded programs (loaded for the device's ifindex) in HW
mode; a program not bound to the device is refused in HW mode ("xdpoffload
of non-bound program").

netdevsim netdevs may be renamed by udev right after creation, so they are
addressed by ifindex.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pyroute2 import NetlinkError
from xdplib import bpfobj, netdevsim, xdp_attach
from xdplib.bpfobj import BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netdevsim import NetdevsimDevice
from xdplib.netns import NetNS, Port
from xdplib.poll import wait_until
from xdplib.refusals import xdp_refused
from xdplib.xdp_attach import BOTH_MODES, XdpMode

InfoFn = Callable[[Port], NetdevInfo]


@dataclass(frozen=True)
class Nsim:
    dev: NetdevsimDevice
    port: Port


@pytest.fixture
def host_ns() -> Iterator[NetNS]:
    ns = NetNS.original()
    yield ns
    ns.remove()


@pytest.fixture
def nsim(host_ns: NetNS) -> Iterator[Nsim]:
    dev = netdevsim.new_device()
    try:
        yield Nsim(dev, netdevsim.single_port(dev, host_ns))
    finally:
        dev.delete()


def _link_exists(ns: NetNS, ifindex: int) -> bool:
    try:
        ns.ipr.link("get", index=ifindex)
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return False
        raise
    return True


def test_new_device_appears_and_del_device_removes_it(host_ns: NetNS) -> None:
    dev = netdevsim.new_device()
    try:
        assert dev.exists, f"{dev.sysfs} missing after writing to new_device"
        port = netdevsim.single_port(dev, host_ns)
        driver = (dev.sysfs / "driver").resolve().name
        assert driver == "netdevsim", f"{dev.sysfs} bound to {driver!r}, expected netdevsim"
        assert _link_exists(host_ns, port.ifindex), f"rtnetlink does not know {port}"
    finally:
        dev.delete()
    assert not dev.exists, f"{dev.sysfs} still present after del_device"
    assert not _link_exists(host_ns, port.ifindex), (
        f"{port} still known to rtnetlink after del_device"
    )


def test_xdp_features_are_hw_offload_only(nsim: Nsim, netdev_info: InfoFn) -> None:
    info = netdev_info(nsim.port)
    assert info.xdp_features == {"hw-offload"}, (
        f"netdevsim advertises only hw-offload (nsim_create), got {sorted(info.xdp_features)}"
    )
    assert info.xdp_rx_metadata == frozenset(), f"no xdp_metadata_ops: {info.xdp_rx_metadata}"
    assert info.xsk_features == frozenset()
    assert info.xdp_zc_max_segs is None


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_attach_accepted(
    nsim: Nsim, load_bpf: Callable[..., BpfObject], netdev_info: InfoFn, mode: XdpMode
) -> None:
    """Although only hw-offload is advertised, nsim_bpf() accepts driver XDP."""
    fd = load_bpf("xdp_drop").prog_fd("xdp_drop")
    xdp_attach.attach_verified(nsim.port.ns.ipr, nsim.port.ifindex, fd, mode, what=str(nsim.port))
    assert netdev_info(nsim.port).xdp_features == {"hw-offload"}, (
        "attaching must not change features"
    )
    xdp_attach.detach(nsim.port.ns.ipr, nsim.port.ifindex, mode)
    state = xdp_attach.query(nsim.port.ns.ipr, nsim.port.ifindex)
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, f"after detach: {state}"


def test_native_attach_refused_when_disabled_in_debugfs(
    nsim: Nsim, load_bpf: Callable[..., BpfObject]
) -> None:
    knob = nsim.dev.port_debugfs(0) / "bpf_xdpdrv_accept"
    assert knob.read_text().strip() == "Y", f"{knob} should default to Y"
    fd = load_bpf("xdp_drop").prog_fd("xdp_drop")
    knob.write_text("N\n")
    try:
        xdp_refused(
            nsim.port,
            lambda: xdp_attach.attach(nsim.port.ns.ipr, nsim.port.ifindex, fd, XdpMode.NATIVE),
            errno.EOPNOTSUPP,
            "driver XDP disabled in DebugFS",
            exact=False,
        )
    finally:
        knob.write_text("Y\n")
    xdp_attach.attach_verified(nsim.port.ns.ipr, nsim.port.ifindex, fd, XdpMode.NATIVE)


def test_offloaded_program_attaches_in_hw_mode(
    nsim: Nsim, load_bpf: Callable[..., BpfObject]
) -> None:
    obj = load_bpf("xdp_drop", prog_ifindex={"xdp_drop": nsim.port.ifindex})
    fd = obj.prog_fd("xdp_drop")
    prog_id = xdp_attach.attach_verified(
        nsim.port.ns.ipr, nsim.port.ifindex, fd, XdpMode.OFFLOAD, what=str(nsim.port)
    )
    offloaded = int((nsim.dev.port_debugfs(0) / "bpf_offloaded_id").read_text())
    assert offloaded == prog_id, f"netdevsim reports offloaded prog {offloaded}, expected {prog_id}"


@pytest.mark.parametrize(
    ("mode", "extack"),
    [
        (XdpMode.NATIVE, "Using offloaded program without HW_MODE flag is not supported"),
        # bpf_prog_get_type_dev() refuses an offloaded program for the skb
        # path before any extack is set.
        (XdpMode.GENERIC, None),
    ],
    ids=["native", "generic"],
)
def test_offloaded_program_refused_outside_hw_mode(
    nsim: Nsim, load_bpf: Callable[..., BpfObject], mode: XdpMode, extack: str | None
) -> None:
    obj = load_bpf("xdp_drop", prog_ifindex={"xdp_drop": nsim.port.ifindex})
    fd = obj.prog_fd("xdp_drop")
    xdp_refused(
        nsim.port,
        lambda: xdp_attach.attach(nsim.port.ns.ipr, nsim.port.ifindex, fd, mode),
        errno.EINVAL,
        extack,
        exact=False,
    )


def test_hw_mode_refuses_program_not_bound_to_device(
    nsim: Nsim, load_bpf: Callable[..., BpfObject]
) -> None:
    fd = load_bpf("xdp_drop").prog_fd("xdp_drop")
    xdp_refused(
        nsim.port,
        lambda: xdp_attach.attach(nsim.port.ns.ipr, nsim.port.ifindex, fd, XdpMode.OFFLOAD),
        errno.EINVAL,
        "xdpoffload of non-bound program",
        exact=False,
    )


def test_deleting_device_releases_attached_program(host_ns: NetNS, suite: str) -> None:
    dev = netdevsim.new_device()
    try:
        port = netdevsim.single_port(dev, host_ns)
        with bpfobj.load(suite, "xdp_drop") as obj:
            prog_id = xdp_attach.attach_verified(
                host_ns.ipr, port.ifindex, obj.prog_fd("xdp_drop"), XdpMode.NATIVE
            )
        # Our fds are closed: only the device holds the program now.
        assert bpfobj.prog_exists(prog_id), f"prog {prog_id} should live on while attached"
    finally:
        dev.delete()
    # freed after an RCU grace period: polled for
    exists = wait_until(lambda: bpfobj.prog_exists(prog_id), lambda alive: not alive, 10)
    assert not exists, (
        f"prog {prog_id} still exists 10 s after its only holder, "
        f"netdevsim{dev.dev_id}, was deleted"
    )
