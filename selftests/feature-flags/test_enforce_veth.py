"""The feature check on devices that compute their features: veth, and lo.

drivers/net/veth.c (6.12) veth_set_xdp_features(): a veth advertises basic
| redirect | rx-sg (plus ndo-xmit* while its peer has NAPI) only while the
peer's real tx queues do not outnumber its own real rx queues; otherwise
nothing, and veth_xdp_set() refuses a native program with ENOSPC. The
count is recomputed when channels change (veth_set_channels()).

Patch 4 checks against what the device advertises at the moment of the
attach, before the driver is asked: an enforced native attach on a veth
advertising nothing fails with EOPNOTSUPP and the feature extack instead
of veth's ENOSPC. Not enforced, veth refuses as before.

lo has no ndo_bpf: a native attach fails before any feature check, with
the core's "Underlying driver does not support XDP in native mode"; with no
mode flag the core falls back to generic mode, where the flag is ignored.
With XDP_FLAGS_SKB_MODE the flag is EINVAL ("XDP feature enforcement is
for native mode only"), on any device.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from ffcommon import (
    BASIC,
    FDINFO_PROG_LOCK,
    NATIVE_ONLY,
    REDIRECT,
    RX_SG,
    XDP_FLAGS_ENFORCE_FEATURES,
    assert_lock,
    attach_accepted,
    describe,
    enforced_refused,
    lacks_message,
    refused,
)
from pyroute2.ethtool import Ethtool
from xdplib import xdp_attach
from xdplib.bpfobj import BpfObject, prog_id
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import NetNS, Port, create_veth, inside
from xdplib.topology import VethPair
from xdplib.xdp_attach import XdpMode

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
ENFORCE = XDP_FLAGS_ENFORCE_FEATURES
VETH_FEATURES = BASIC | REDIRECT | RX_SG
VETH_ENOSPC_EXTACK = "veth: XDP expects number of rx queues not less than peer tx queues"

PROGRAMS = {
    "xdp_pass": BASIC,
    "xdp_redirect_map": BASIC | REDIRECT,
    "xdp_pass_frags": BASIC,  # xdp.frags needs no rx-sg (v2)
    "xdp_redirect_frags": BASIC | REDIRECT,
}
each_program = pytest.mark.parametrize("stem", list(PROGRAMS))


def _fd(load_bpf: LoadFn, stem: str) -> int:
    return load_bpf(stem).prog_fd(stem)


@pytest.fixture
def starved_veth(make_netns: Callable[[], NetNS], netdev_info: InfoFn) -> Port:
    """The end of a veth pair with 1 rx queue whose peer has 2 tx queues: no features."""
    ns_a, ns_b = make_netns(), make_netns()
    _, b = create_veth(
        ns_a,
        "veth0",
        ns_b,
        "veth1",
        a_num_tx_queues=2,
        a_num_rx_queues=2,
        b_num_tx_queues=1,
        b_num_rx_queues=1,
    )
    features = netdev_info(b).xdp_features_raw
    assert features == 0, f"{b}: 1 rx queue for 2 peer tx queues, advertises {describe(features)}"
    return b


def _set_rx_channels(port: Port, count: int) -> None:
    with inside(port.ns):
        ethtool = Ethtool()
    try:
        ethtool.set_channels(port.ifname, {"rx_count": count})
        now = ethtool.get_channels(port.ifname).rx_count
    finally:
        ethtool.close()
    assert now == count, f"{port} has {now} rx channels after setting {count}"


@pytest.fixture
def veth_2x2(make_netns: Callable[[], NetNS], netdev_info: InfoFn) -> VethPair:
    """A veth pair with 2 rx and 2 tx queues at each end: both advertise the veth set."""
    ns_a, ns_b = make_netns(), make_netns()
    a, b = create_veth(
        ns_a,
        "veth0",
        ns_b,
        "veth1",
        a_num_tx_queues=2,
        a_num_rx_queues=2,
        b_num_tx_queues=2,
        b_num_rx_queues=2,
    )
    for port in (a, b):
        features = netdev_info(port).xdp_features_raw
        assert features == VETH_FEATURES, (
            f"{port} should advertise {describe(VETH_FEATURES)}, got {describe(features)}"
        )
    return VethPair(a, b)


@each_program
def test_enforced_native_refused_on_veth_without_features(
    starved_veth: Port, load_bpf: LoadFn, stem: str
) -> None:
    b, fd = starved_veth, _fd(load_bpf, stem)
    enforced_refused(b, fd, errno.EOPNOTSUPP, lacks_message(PROGRAMS[stem]))


def test_not_enforced_native_still_refused_by_veth(starved_veth: Port, load_bpf: LoadFn) -> None:
    b, fd = starved_veth, _fd(load_bpf, "xdp_pass")
    refused(
        b,
        lambda: xdp_attach.attach(b.ns.ipr, b.ifindex, fd, XdpMode.NATIVE),
        errno.ENOSPC,
        VETH_ENOSPC_EXTACK,
    )


def test_enforced_generic_is_einval_on_veth_without_features(
    starved_veth: Port, load_bpf: LoadFn
) -> None:
    fd = _fd(load_bpf, "xdp_redirect_map")
    enforced_refused(starved_veth, fd, errno.EINVAL, NATIVE_ONLY, XdpMode.GENERIC)
    attach_accepted(starved_veth, fd, XdpMode.GENERIC, what="xdp_redirect_map, generic")


@each_program
def test_enforced_native_accepted_on_veth(
    veth_pair: VethPair, load_bpf: LoadFn, netdev_info: InfoFn, stem: str
) -> None:
    r = veth_pair.receiver
    features = netdev_info(r).xdp_features_raw
    assert features & VETH_FEATURES == VETH_FEATURES, (
        f"{r} should advertise {describe(VETH_FEATURES)}, got {describe(features)}"
    )
    attach_accepted(r, _fd(load_bpf, stem), XdpMode.NATIVE, ENFORCE, f"{stem}, enforced")


def test_enforced_native_refused_after_features_drop_at_run_time(
    veth_2x2: VethPair, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    b = veth_2x2.receiver
    _set_rx_channels(b, 1)
    features = netdev_info(b).xdp_features_raw
    assert features == 0, (
        f"with 1 rx channel for its peer's 2 tx queues {b} should advertise nothing, "
        f"got {describe(features)}"
    )
    fd = _fd(load_bpf, "xdp_pass")
    enforced_refused(b, fd, errno.EOPNOTSUPP, lacks_message(BASIC))


def test_enforced_native_accepted_once_features_are_back(
    veth_2x2: VethPair, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    b = veth_2x2.receiver
    _set_rx_channels(b, 1)
    _set_rx_channels(b, 2)
    features = netdev_info(b).xdp_features_raw
    assert features == VETH_FEATURES, (
        f"with 2 rx channels again {b} should advertise {describe(VETH_FEATURES)}, "
        f"got {describe(features)}"
    )
    attach_accepted(b, _fd(load_bpf, "xdp_pass"), XdpMode.NATIVE, ENFORCE, "xdp_pass, enforced")


def test_enforced_native_on_loopback_keeps_driver_refusal(
    make_netns: Callable[[], NetNS], load_bpf: LoadFn
) -> None:
    lo = Port.lookup(make_netns(), "lo")
    fd = _fd(load_bpf, "xdp_pass")
    enforced_refused(
        lo, fd, errno.EOPNOTSUPP, "Underlying driver does not support XDP in native mode"
    )


def test_enforced_generic_on_loopback_is_einval(
    make_netns: Callable[[], NetNS], load_bpf: LoadFn
) -> None:
    lo = Port.lookup(make_netns(), "lo")
    enforced_refused(lo, _fd(load_bpf, "xdp_pass"), errno.EINVAL, NATIVE_ONLY, XdpMode.GENERIC)


def test_enforce_without_mode_on_loopback_falls_back_to_generic(
    make_netns: Callable[[], NetNS], load_bpf: LoadFn
) -> None:
    """No mode flag and no ndo_bpf: generic mode (dev_xdp_mode()), where the flag is
    ignored: accepted on a device advertising nothing, and nothing locked."""
    lo = Port.lookup(make_netns(), "lo")
    fd = _fd(load_bpf, "xdp_redirect_map")
    xdp_attach.set_xdp_fd(lo.ns.ipr, lo.ifindex, fd, ENFORCE)
    state = xdp_attach.query(lo.ns.ipr, lo.ifindex)
    assert state.attached == XdpMode.GENERIC.attached and state.skb_prog_id == prog_id(fd), (
        f"xdp_redirect_map with only the flag should run in generic mode on {lo}: {state}"
    )
    assert_lock(fd, FDINFO_PROG_LOCK, None, "xdp_redirect_map, generic on lo")
