"""Native XDP on virtio_net, with the guest's two looped NICs.

The guest is started with virtme-ng's ``--network loop``: two virtio NICs
on one QEMU hub, so what one sends the other receives (xdplib.nics.virtio_loop
finds them by driver and moves each into a namespace of its own).

virtio_net (6.12, drivers/net/virtio_net.c): xdp_features is basic |
redirect, plus rx-sg when VIRTIO_NET_F_MRG_RXBUF was negotiated;
virtnet_xdp_set() adds ndo-xmit | ndo-xmit-sg while a native program is
attached. xdp-rx-metadata is hash when RSS or hash reporting was negotiated.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator

import pytest
from xdplib import nics, xdp_attach
from xdplib.bpfobj import BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import NetNS, Port
from xdplib.nics import VirtioLoop, VirtioNic
from xdplib.refusals import xdp_refused
from xdplib.traffic import Flow, exchange, make_markers
from xdplib.xdp_attach import BOTH_MODES, XdpMode

AttachFn = Callable[[Port, str, XdpMode], int]
InfoFn = Callable[[Port], NetdevInfo]
each_mode = pytest.mark.parametrize("mode", BOTH_MODES, ids=str)

VIRTIO_NET_F_MRG_RXBUF = 15
VIRTIO_NET_F_HASH_REPORT = 57
VIRTIO_NET_F_RSS = 60
N_FRAMES = 8


@pytest.fixture
def virtio_loop(make_netns: Callable[[], NetNS]) -> Iterator[VirtioLoop]:
    try:
        with nics.virtio_loop(make_netns) as loop:
            yield loop
    except nics.NoVirtioLoop as e:
        pytest.fail(str(e), pytrace=False)


def _expected_features(nic: VirtioNic) -> frozenset[str]:
    base = {"basic", "redirect"}
    if nic.has_feature(VIRTIO_NET_F_MRG_RXBUF):
        base.add("rx-sg")
    return frozenset(base)


def test_nics_found_by_driver_and_looped(virtio_loop: VirtioLoop) -> None:
    """Without XDP, what one NIC sends the other receives (the hub works)."""
    s, r = virtio_loop.sender.port, virtio_loop.receiver.port
    markers = make_markers(N_FRAMES, "virtio-loop")
    got = exchange(s, Flow(src_mac=s.mac, dst_mac=r.mac), markers, expect_at=[r])[r]
    assert not got.missing(markers), (
        f"no XDP: expected all {N_FRAMES} frames from {s} at {r} over the QEMU hub, "
        f"saw {got.describe()}"
    )


def test_xdp_features_before_during_after_native_program(
    virtio_loop: VirtioLoop, attach_xdp: AttachFn, netdev_info: InfoFn
) -> None:
    nic = virtio_loop.receiver
    base = _expected_features(nic)
    info = netdev_info(nic.port)
    assert info.xdp_features == base, (
        f"{nic.port}: expected {sorted(base)} (rx-sg iff MRG_RXBUF negotiated), "
        f"got {sorted(info.xdp_features)}"
    )
    hash_meta = nic.has_feature(VIRTIO_NET_F_RSS) or nic.has_feature(VIRTIO_NET_F_HASH_REPORT)
    assert info.xdp_rx_metadata == (frozenset({"hash"}) if hash_meta else frozenset()), (
        f"{nic.port}: rx metadata should be hash iff RSS/hash report negotiated "
        f"(negotiated: {hash_meta}), got {sorted(info.xdp_rx_metadata)}"
    )
    assert info.xdp_zc_max_segs is None and info.xsk_features == frozenset()

    attach_xdp(nic.port, "xdp_pass", XdpMode.NATIVE)
    during = netdev_info(nic.port).xdp_features
    assert during == base | {"ndo-xmit", "ndo-xmit-sg"}, (
        f"{nic.port} with a native program should add ndo-xmit and ndo-xmit-sg: "
        f"got {sorted(during)}"
    )

    xdp_attach.detach(nic.port.ns.ipr, nic.port.ifindex, XdpMode.NATIVE)
    after = netdev_info(nic.port).xdp_features
    assert after == base, f"{nic.port} after detach: expected {sorted(base)}, got {sorted(after)}"


@each_mode
def test_pass_delivers_every_frame(
    virtio_loop: VirtioLoop, attach_xdp: AttachFn, mode: XdpMode
) -> None:
    s, r = virtio_loop.sender.port, virtio_loop.receiver.port
    attach_xdp(r, "xdp_pass", mode)
    markers = make_markers(N_FRAMES, f"virtio-pass-{mode}")
    got = exchange(s, Flow(src_mac=s.mac, dst_mac=r.mac), markers, expect_at=[r])[r]
    assert not got.missing(markers), (
        f"XDP_PASS ({mode}) on {r}: expected all {N_FRAMES} frames, saw {got.describe()}"
    )


@each_mode
def test_drop_delivers_nothing(
    virtio_loop: VirtioLoop, attach_xdp: AttachFn, mode: XdpMode
) -> None:
    s, r = virtio_loop.sender.port, virtio_loop.receiver.port
    attach_xdp(r, "xdp_drop", mode)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    markers = make_markers(N_FRAMES, f"virtio-drop-{mode}")
    got = exchange(s, flow, markers, expect_none_at=[r])[r]
    assert not got.markers, f"XDP_DROP ({mode}) on {r}: expected no frame, saw {got.describe()}"

    xdp_attach.detach(r.ns.ipr, r.ifindex, mode)
    again = make_markers(N_FRAMES, f"virtio-drop-detached-{mode}")
    after = exchange(s, flow, again, expect_at=[r])[r]
    assert not after.missing(again), (
        f"after detaching XDP_DROP from {r} all {N_FRAMES} frames should arrive: {after.describe()}"
    )


@each_mode
def test_tx_bounces_every_frame_back_over_the_hub(
    virtio_loop: VirtioLoop, attach_xdp: AttachFn, mode: XdpMode
) -> None:
    s, r = virtio_loop.sender.port, virtio_loop.receiver.port
    attach_xdp(r, "xdp_tx", mode)
    markers = make_markers(N_FRAMES, f"virtio-tx-{mode}")
    res = exchange(
        s, Flow(src_mac=s.mac, dst_mac=r.mac), markers, expect_at=[s], expect_none_at=[r]
    )
    back, at_r = res[s], res[r]
    assert not back.missing(markers), (
        f"XDP_TX ({mode}) on {r}: expected all {N_FRAMES} frames back at {s}, saw {back.describe()}"
    )
    assert not at_r.markers, (
        f"XDP_TX consumed the frames on {r}, yet its stack saw {at_r.describe()}"
    )
    for frame in back.frames:
        assert (frame.src, frame.dst) == (r.mac, s.mac), (
            f"bounced frame should have swapped MACs, got src={frame.src} dst={frame.dst}"
        )


def test_native_attach_refused_above_single_page_mtu(
    virtio_loop: VirtioLoop, load_bpf: Callable[..., BpfObject]
) -> None:
    """A non-frags program needs the MTU to fit one page (virtnet_xdp_set)."""
    r = virtio_loop.receiver.port
    ipr = r.ns.ipr
    old_mtu = int(r.ns.link(r.ifname).get_attr("IFLA_MTU"))
    page = os.sysconf("SC_PAGE_SIZE")
    ipr.link("set", index=r.ifindex, mtu=page)
    try:
        fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
        xdp_refused(
            r,
            lambda: xdp_attach.attach(ipr, r.ifindex, fd, XdpMode.NATIVE),
            errno.EINVAL,
            "MTU too large to enable XDP without frags",
            exact=False,
        )
    finally:
        ipr.link("set", index=r.ifindex, mtu=old_mtu)
