"""Programs accepted under enforcement do their job, frame by frame.

A fresh veth advertises basic | redirect | rx-sg (drivers/net/veth.c
veth_set_xdp_features()), so redirect, drop and frags programs attach
natively with XDP_FLAGS_ENFORCE_FEATURES. Native redirect into veth
"target" lands in its peer's NAPI ring, which exists while that peer has a
native program (veth_xdp_xmit() returns -ENXIO otherwise): the redirect
test gives target_peer an XDP_PASS program, attached enforced as well.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ffcommon import XDP_FLAGS_ENFORCE_FEATURES, attach_accepted
from xdplib import xdp_attach
from xdplib.bpfobj import BpfObject
from xdplib.netns import Port, inside
from xdplib.topology import RedirectTopology, VethPair
from xdplib.traffic import Flow, exchange, make_markers
from xdplib.xdp_attach import XdpMode

LoadFn = Callable[..., BpfObject]
ENFORCE = XDP_FLAGS_ENFORCE_FEATURES
NATIVE = XdpMode.NATIVE
N_FRAMES = 8


def _flow(sender: Port, receiver: Port) -> Flow:
    return Flow(src_mac=sender.mac, dst_mac=receiver.mac)


def test_enforced_native_redirect_moves_every_frame(
    redirect_topology: RedirectTopology, load_bpf: LoadFn
) -> None:
    t = redirect_topology
    attach_accepted(
        t.target_peer, load_bpf("xdp_pass").prog_fd("xdp_pass"), NATIVE, ENFORCE, "xdp_pass"
    )
    obj = load_bpf("xdp_redirect_map")
    # Devmap entries resolve ifindexes in the updater's namespace.
    with inside(t.receiver.ns):
        obj.map_update("tx_port", struct.pack("I", 0), struct.pack("I", t.target.ifindex))
    attach_accepted(
        t.receiver, obj.prog_fd("xdp_redirect_map"), NATIVE, ENFORCE, "xdp_redirect_map"
    )
    markers = make_markers(N_FRAMES, "ff-redirect")

    res = exchange(
        t.sender,
        _flow(t.sender, t.receiver),
        markers,
        expect_at=[t.target_peer],
        expect_none_at=[t.receiver],
    )

    out, at_r = res[t.target_peer], res[t.receiver]
    assert not out.missing(markers), (
        f"enforced native redirect {t.receiver} -> {t.target}: expected all {N_FRAMES} frames "
        f"at {t.target_peer}, missing {len(out.missing(markers))}; saw {out.describe()}"
    )
    assert len(out.markers) == N_FRAMES, f"each frame once at {t.target_peer}: {out.describe()}"
    assert not at_r.markers, (
        f"redirected frames must not reach {t.receiver}'s stack, saw {at_r.describe()}"
    )


def test_enforced_native_drop_drops_every_frame(veth_pair: VethPair, load_bpf: LoadFn) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    attach_accepted(r, load_bpf("xdp_drop").prog_fd("xdp_drop"), NATIVE, ENFORCE, "xdp_drop")
    markers = make_markers(N_FRAMES, "ff-drop")

    got = exchange(s, _flow(s, r), markers, expect_none_at=[r])[r]
    assert not got.markers, f"enforced native XDP_DROP on {r}: expected no frame, {got.describe()}"

    # The same path delivers once the program is gone: the drop was XDP's.
    xdp_attach.detach(r.ns.ipr, r.ifindex, NATIVE)
    again = make_markers(N_FRAMES, "ff-drop-detached")
    after = exchange(s, _flow(s, r), again, expect_at=[r])[r]
    assert not after.missing(again), (
        f"after detaching xdp_drop from {r}, expected all {N_FRAMES} frames; {after.describe()}"
    )


def test_enforced_native_frags_pass_delivers_every_frame(
    veth_pair: VethPair, load_bpf: LoadFn
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    fd = load_bpf("xdp_pass_frags").prog_fd("xdp_pass_frags")
    attach_accepted(r, fd, NATIVE, ENFORCE, "xdp_pass_frags")
    markers = make_markers(N_FRAMES, "ff-frags")

    got = exchange(s, _flow(s, r), markers, expect_at=[r])[r]
    assert not got.missing(markers), (
        f"enforced native xdp.frags XDP_PASS on {r}: expected all {N_FRAMES} frames, "
        f"missing {len(got.missing(markers))}; saw {got.describe()}"
    )
    assert len(got.markers) == N_FRAMES, f"each frame once on {r}: {got.describe()}"
