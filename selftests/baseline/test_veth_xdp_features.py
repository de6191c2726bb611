"""veth's xdp_features, read over the netdev generic-netlink family, against
what attaching and sending actually do.

From drivers/net/veth.c (6.12), veth_set_xdp_features():
  * peer's real tx queues <= this device's real rx queues:
      basic | redirect | rx-sg, plus ndo-xmit | ndo-xmit-sg while the *peer*
      has an XDP program or GRO (it then has NAPI to take XDP frames);
  * otherwise no feature at all, and veth_xdp_set() refuses a native
    program with -ENOSPC.
  * veth_xdp_set() / veth_set_features() also set or clear ndo-xmit and
    ndo-xmit-sg on the peer through xdp_features_{set,clear}_redirect_target()
    when a native program or GRO comes or goes.
xdp_metadata_ops provides rx timestamp, hash and VLAN tag; there is no
AF_XDP zero-copy, so no xdp-zc-max-segs attribute and no xsk features.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

import pytest
from pyroute2.ethtool import Ethtool
from xdplib import xdp_attach
from xdplib.bpfobj import BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import NetNS, Port, create_veth, inside
from xdplib.refusals import xdp_refused
from xdplib.topology import RedirectTopology, VethPair
from xdplib.traffic import Flow, exchange, make_markers
from xdplib.xdp_attach import XdpMode

AttachFn = Callable[[Port, str, XdpMode], int]
InfoFn = Callable[[Port], NetdevInfo]

VETH_BASE = frozenset({"basic", "redirect", "rx-sg"})
VETH_XMIT = frozenset({"ndo-xmit", "ndo-xmit-sg"})
N_FRAMES = 6


def _set_gro(port: Port, enable: bool) -> None:
    with inside(port.ns):
        ethtool = Ethtool()
    try:
        features = ethtool.get_features(port.ifname)
        features.features["rx-gro"].enable = enable
        ethtool.set_features(port.ifname, features)
        now = ethtool.get_features(port.ifname).features["rx-gro"].enable
    finally:
        ethtool.close()
    assert bool(now) == enable, f"rx-gro on {port} is {now}, wanted {enable}"


def test_fresh_pair_advertises_basic_redirect_rx_sg(
    veth_pair: VethPair, netdev_info: InfoFn
) -> None:
    for port in (veth_pair.sender, veth_pair.receiver):
        info = netdev_info(port)
        assert info.ifindex == port.ifindex
        assert info.xdp_features == VETH_BASE, (
            f"{port}: one queue each way and a peer without XDP or GRO, expected "
            f"xdp-features {sorted(VETH_BASE)}, got {sorted(info.xdp_features)}"
        )
        assert info.xdp_rx_metadata == {"timestamp", "hash", "vlan-tag"}, (
            f"{port}: veth_xdp_metadata_ops has rx timestamp, hash and vlan tag, "
            f"got {sorted(info.xdp_rx_metadata)}"
        )
        assert info.xsk_features == frozenset(), f"{port}: no xsk tx metadata expected"
        assert info.xdp_zc_max_segs is None, (
            f"{port}: xdp-zc-max-segs is only sent with xsk-zerocopy, got {info.xdp_zc_max_segs}"
        )


@pytest.mark.parametrize(
    ("mode", "peer_gains_xmit"),
    [(XdpMode.NATIVE, True), (XdpMode.GENERIC, False)],
    ids=["native", "generic"],
)
def test_program_on_one_end_sets_ndo_xmit_on_the_other(
    veth_pair: VethPair,
    attach_xdp: AttachFn,
    netdev_info: InfoFn,
    mode: XdpMode,
    peer_gains_xmit: bool,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    attach_xdp(s, "xdp_pass", mode)

    expected = VETH_BASE | VETH_XMIT if peer_gains_xmit else VETH_BASE
    assert netdev_info(r).xdp_features == expected, (
        f"with a {mode} program on {s}, its peer {r} should advertise {sorted(expected)}, "
        f"got {sorted(netdev_info(r).xdp_features)}"
    )
    assert netdev_info(s).xdp_features == VETH_BASE, (
        f"{s}'s own features must not change with its program: "
        f"got {sorted(netdev_info(s).xdp_features)}"
    )

    xdp_attach.detach(s.ns.ipr, s.ifindex, mode)
    assert netdev_info(r).xdp_features == VETH_BASE, (
        f"after detaching from {s}, {r} should be back to {sorted(VETH_BASE)}, "
        f"got {sorted(netdev_info(r).xdp_features)}"
    )


def test_gro_on_one_end_sets_ndo_xmit_on_the_other(
    veth_pair: VethPair, netdev_info: InfoFn
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    _set_gro(s, True)
    assert netdev_info(r).xdp_features == VETH_BASE | VETH_XMIT, (
        f"GRO on {s} gives it NAPI, so {r} should advertise ndo-xmit: "
        f"got {sorted(netdev_info(r).xdp_features)}"
    )
    _set_gro(s, False)
    assert netdev_info(r).xdp_features == VETH_BASE, (
        f"GRO off on {s}: {r} should drop ndo-xmit, got {sorted(netdev_info(r).xdp_features)}"
    )


def test_more_peer_tx_queues_than_rx_queues_clears_features_and_refuses_native(
    make_netns: Callable[[], NetNS],
    load_bpf: Callable[..., BpfObject],
    netdev_info: InfoFn,
) -> None:
    ns_a, ns_b = make_netns(), make_netns()
    # a: 2 tx / 2 rx queues, b: 1 tx / 1 rx. b receives what a's 2 tx queues
    # send with 1 rx queue; a receives b's 1 tx queue with 2 rx queues.
    a, b = create_veth(
        ns_a,
        "veth0",
        ns_b,
        "veth1",
        a_num_tx_queues=2,
        a_num_rx_queues=2,
        b_num_tx_queues=1,
        b_num_rx_queues=1,
    )
    assert netdev_info(b).xdp_features == frozenset(), (
        f"{b} has 1 rx queue for a peer with 2 tx queues: expected no xdp-features, "
        f"got {sorted(netdev_info(b).xdp_features)}"
    )
    assert netdev_info(a).xdp_features == VETH_BASE, (
        f"{a} has 2 rx queues for a peer with 1 tx queue: expected {sorted(VETH_BASE)}, "
        f"got {sorted(netdev_info(a).xdp_features)}"
    )

    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    xdp_refused(
        b,
        lambda: xdp_attach.attach(b.ns.ipr, b.ifindex, fd, XdpMode.NATIVE),
        errno.ENOSPC,
        "rx queues not less than peer tx queues",
        exact=False,
    )

    # Generic XDP does not depend on the driver: accepted.
    xdp_attach.attach_verified(b.ns.ipr, b.ifindex, fd, XdpMode.GENERIC, what=f"xdp_pass on {b}")
    # And the side with enough rx queues takes a native program.
    xdp_attach.attach_verified(a.ns.ipr, a.ifindex, fd, XdpMode.NATIVE, what=f"xdp_pass on {a}")


def test_native_tx_reaches_sender_only_while_it_has_napi(
    veth_pair: VethPair, attach_xdp: AttachFn, netdev_info: InfoFn
) -> None:
    """ndo-xmit on the XDP_TX device predicts whether bounced frames arrive."""
    s, r = veth_pair.sender, veth_pair.receiver
    attach_xdp(r, "xdp_tx", XdpMode.NATIVE)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)

    assert "ndo-xmit" not in netdev_info(r).xdp_features
    lost = make_markers(N_FRAMES, "tx-no-napi")
    got = exchange(s, flow, lost, expect_none_at=[s])[s]
    assert not got.markers, (
        f"{s} has no NAPI ({r} lacks ndo-xmit): native XDP_TX frames cannot be "
        f"delivered, yet {got.describe()}"
    )

    attach_xdp(s, "xdp_pass", XdpMode.NATIVE)
    assert "ndo-xmit" in netdev_info(r).xdp_features, (
        f"with XDP on {s}, {r} should advertise ndo-xmit: {sorted(netdev_info(r).xdp_features)}"
    )
    delivered = make_markers(N_FRAMES, "tx-napi")
    got = exchange(s, flow, delivered, expect_at=[s])[s]
    assert not got.missing(delivered), (
        f"with NAPI on {s}, all {N_FRAMES} XDP_TX frames should come back: {got.describe()}"
    )


def test_native_redirect_reaches_target_only_while_it_advertises_ndo_xmit(
    redirect_topology: RedirectTopology,
    attach_xdp: AttachFn,
    load_bpf: Callable[..., BpfObject],
    netdev_info: InfoFn,
) -> None:
    """The devmap checks the target's ndo-xmit (kernel/bpf/devmap.c is_valid_dst)."""
    t = redirect_topology
    obj = load_bpf("xdp_redirect")
    with inside(t.receiver.ns):
        obj.map_update("tx_port", struct.pack("I", 0), struct.pack("I", t.target.ifindex))
    xdp_attach.attach_verified(
        t.receiver.ns.ipr, t.receiver.ifindex, obj.prog_fd("xdp_redirect"), XdpMode.NATIVE
    )
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)

    assert netdev_info(t.target).xdp_features == VETH_BASE
    lost = make_markers(N_FRAMES, "redirect-no-xmit")
    got = exchange(t.sender, flow, lost, expect_none_at=[t.target_peer])[t.target_peer]
    assert not got.markers, (
        f"{t.target} lacks ndo-xmit: redirected frames cannot be sent, yet {got.describe()}"
    )

    attach_xdp(t.target_peer, "xdp_pass", XdpMode.NATIVE)
    assert netdev_info(t.target).xdp_features == VETH_BASE | VETH_XMIT
    delivered = make_markers(N_FRAMES, "redirect-xmit")
    got = exchange(t.sender, flow, delivered, expect_at=[t.target_peer])[t.target_peer]
    assert not got.missing(delivered), (
        f"{t.target} advertises ndo-xmit: all {N_FRAMES} redirected frames should reach "
        f"{t.target_peer}, saw {got.describe()}"
    )
