"""XDP verdicts on a veth pair spanning two fresh network namespaces.

Frames are sent from ``sender``; the program under test runs on its peer
``receiver``. Every frame carries a unique marker and each check says which
markers arrived where.

veth runs native XDP in its NAPI poll. Frames that native XDP sends onward
(XDP_TX back to the peer, XDP_REDIRECT into another veth) go to the
*destination's* peer's NAPI ring, which only exists while that peer has an
XDP program or GRO enabled (drivers/net/veth.c: veth_xdp_xmit returns
-ENXIO without it). A user meets veth that way, so the native TX and
REDIRECT tests give that device NAPI by attaching an XDP_PASS program, as a
user would. Generic XDP needs none of this.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from xdplib import xdp_attach
from xdplib.bpfobj import BpfObject
from xdplib.netns import Port, inside
from xdplib.topology import RedirectTopology, VethPair
from xdplib.tracefs import TraceInstance
from xdplib.traffic import Flow, exchange, make_markers
from xdplib.xdp_attach import BOTH_MODES, XdpMode

N_FRAMES = 8
AttachFn = Callable[[Port, str, XdpMode], int]
each_mode = pytest.mark.parametrize("mode", BOTH_MODES, ids=str)


def _flow(sender: Port, receiver: Port) -> Flow:
    return Flow(src_mac=sender.mac, dst_mac=receiver.mac)


@each_mode
def test_pass_delivers_every_frame(
    veth_pair: VethPair, attach_xdp: AttachFn, mode: XdpMode
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    attach_xdp(r, "xdp_pass", mode)
    markers = make_markers(N_FRAMES, f"pass-{mode}")

    got = exchange(s, _flow(s, r), markers, expect_at=[r])[r]

    assert not got.missing(markers), (
        f"XDP_PASS ({mode}) on {r}: expected all {N_FRAMES} frames to reach its stack, "
        f"missing {len(got.missing(markers))}; saw {got.describe()}"
    )
    assert len(got.markers) == N_FRAMES, f"each frame once on {r}, saw {got.describe()}"


@each_mode
def test_drop_delivers_nothing(veth_pair: VethPair, attach_xdp: AttachFn, mode: XdpMode) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    attach_xdp(r, "xdp_drop", mode)
    markers = make_markers(N_FRAMES, f"drop-{mode}")

    got = exchange(s, _flow(s, r), markers, expect_none_at=[r])[r]
    assert not got.markers, f"XDP_DROP ({mode}) on {r}: expected no frame, saw {got.describe()}"

    # The same path delivers once the program is gone: the drop was XDP's.
    xdp_attach.detach(r.ns.ipr, r.ifindex, mode)
    again = make_markers(N_FRAMES, f"drop-detached-{mode}")
    after = exchange(s, _flow(s, r), again, expect_at=[r])[r]
    assert not after.missing(again), (
        f"after detaching XDP_DROP from {r}, expected all {N_FRAMES} frames to arrive; "
        f"saw {after.describe()}"
    )


@each_mode
def test_aborted_drops_and_traces_xdp_exception(
    veth_pair: VethPair,
    attach_xdp: AttachFn,
    xdp_exception_trace: TraceInstance,
    mode: XdpMode,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    prog_id = attach_xdp(r, "xdp_aborted", mode)
    markers = make_markers(N_FRAMES, f"aborted-{mode}")

    got = exchange(s, _flow(s, r), markers, expect_none_at=[r])[r]
    assert not got.markers, f"XDP_ABORTED ({mode}) on {r}: expected no frame, saw {got.describe()}"

    events = [
        e
        for e in xdp_exception_trace.events("xdp_exception")
        if e.fields.get("ifindex") == str(r.ifindex) and e.fields.get("prog_id") == str(prog_id)
    ]
    assert len(events) == N_FRAMES, (
        f"expected one xdp:xdp_exception per aborted frame ({N_FRAMES}) for prog {prog_id} "
        f"on ifindex {r.ifindex}, got {len(events)}: "
        f"{[e.line for e in xdp_exception_trace.events()][:5]}"
    )
    assert all(e.fields.get("action") == "ABORTED" for e in events), (
        f"xdp_exception events should say action=ABORTED: {[e.line for e in events]}"
    )


@each_mode
def test_tx_bounces_every_frame_back_to_sender(
    veth_pair: VethPair, attach_xdp: AttachFn, mode: XdpMode
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    if mode is XdpMode.NATIVE:
        # Native XDP_TX lands in the sender's NAPI ring: give it one.
        attach_xdp(s, "xdp_pass", XdpMode.NATIVE)
    attach_xdp(r, "xdp_tx", mode)
    markers = make_markers(N_FRAMES, f"tx-{mode}")

    res = exchange(s, _flow(s, r), markers, expect_at=[s], expect_none_at=[r])

    back, at_r = res[s], res[r]
    assert not back.missing(markers), (
        f"XDP_TX ({mode}) on {r}: expected all {N_FRAMES} frames back at {s}, "
        f"missing {len(back.missing(markers))}; saw {back.describe()}"
    )
    assert not at_r.markers, (
        f"XDP_TX consumed the frames on {r}, yet its stack saw {at_r.describe()}"
    )
    for frame in back.frames:
        assert (frame.src, frame.dst) == (r.mac, s.mac), (
            f"bounced frame should have swapped MACs src={r.mac} dst={s.mac}, "
            f"got src={frame.src} dst={frame.dst}"
        )


@each_mode
def test_redirect_moves_every_frame_to_target(
    redirect_topology: RedirectTopology,
    attach_xdp: AttachFn,
    load_bpf: Callable[..., BpfObject],
    mode: XdpMode,
) -> None:
    t = redirect_topology
    if mode is XdpMode.NATIVE:
        # Native redirect into veth "target" lands in target_peer's NAPI ring.
        attach_xdp(t.target_peer, "xdp_pass", XdpMode.NATIVE)
    obj = load_bpf("xdp_redirect")
    # Devmap entries resolve ifindexes in the updater's namespace.
    with inside(t.receiver.ns):
        obj.map_update("tx_port", struct.pack("I", 0), struct.pack("I", t.target.ifindex))
    assert obj.map_lookup("tx_port", struct.pack("I", 0), 4) == struct.pack("I", t.target.ifindex)
    fd = obj.prog_fd("xdp_redirect")
    xdp_attach.attach(t.receiver.ns.ipr, t.receiver.ifindex, fd, mode)
    assert xdp_attach.query(t.receiver.ns.ipr, t.receiver.ifindex).attached == mode.attached

    markers = make_markers(N_FRAMES, f"redirect-{mode}")
    res = exchange(
        t.sender,
        _flow(t.sender, t.receiver),
        markers,
        expect_at=[t.target_peer],
        expect_none_at=[t.receiver],
    )

    out, at_r = res[t.target_peer], res[t.receiver]
    assert not out.missing(markers), (
        f"XDP_REDIRECT ({mode}) {t.receiver} -> {t.target}: expected all {N_FRAMES} frames "
        f"at {t.target_peer}, missing {len(out.missing(markers))}; saw {out.describe()}"
    )
    assert not at_r.markers, (
        f"redirected frames must not reach {t.receiver}'s stack, saw {at_r.describe()}"
    )
    for frame in out.frames:
        assert (frame.src, frame.dst) == (t.sender.mac, t.receiver.mac), (
            f"redirect should not rewrite the frame: got src={frame.src} dst={frame.dst}"
        )


@each_mode
def test_detach_removes_program(veth_pair: VethPair, attach_xdp: AttachFn, mode: XdpMode) -> None:
    r = veth_pair.receiver
    attach_xdp(r, "xdp_drop", mode)
    xdp_attach.detach(r.ns.ipr, r.ifindex, mode)
    state = xdp_attach.query(r.ns.ipr, r.ifindex)
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE and state.prog_id == 0, (
        f"after detaching xdp_drop ({mode}) {r} still reports {state}"
    )
