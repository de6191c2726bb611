"""XDP_TX and XDP_REDIRECT of multi-buffer frames: they arrive whole on the other side.

veth at MTU 9000, native and generic XDP. The far end runs mb_inspect too
(natively, XDP_PASS): a veth takes XDP_TX and redirected frames natively
only when its peer has a program (or GRO), and the far program records the
frame as it arrives, frags and bytes. What the far stack captures must be
what was sent (MACs swapped by XDP_TX), byte for byte.
"""

from __future__ import annotations

import pytest
from mbcommon import (
    R_BROADCAST,
    R_IFINDEX,
    R_MAP,
    XDP_PASS,
    XDP_REDIRECT,
    XDP_TX,
    AttachProg,
    Config,
    Jumbo,
    JumboRedirect,
    MbProg,
    RawCapture,
    build_frame,
    check_delivered,
    first_difference,
    send_frames,
    swap_macs,
    veth_shape,
)
from xdplib.traffic import ARRIVAL_TIMEOUT
from xdplib.xdp_attach import BOTH_MODES, XdpMode

SIZES = (1000, 3521, 4000, 7617, 9014)


def check_far_records(far: MbProg, frames: dict[int, bytes], what: str) -> None:
    """The far program saw each frame once, with the layout and bytes expected."""
    for slot, frame in frames.items():
        rec = far.rec(slot)
        shape = veth_shape(len(frame))
        assert rec.seen == 1, f"{what}: the far program saw slot {slot} {rec.seen} times"
        assert rec.before == shape, f"{what}: {len(frame)}-byte frame arrived as {rec.before}"
        diff = first_difference(rec.frame, frame)
        assert not diff, f"{what}: {len(frame)}-byte frame as the far program read it: {diff}"


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_tx(jumbo: Jumbo, attach_prog: AttachProg, mode: XdpMode) -> None:
    s, r = jumbo.sender, jumbo.receiver
    far = attach_prog(s, XdpMode.NATIVE)
    far.configure(Config(verdict=XDP_PASS, copy=True))
    prog = attach_prog(r, mode)
    prog.configure(Config(verdict=XDP_TX))
    frames = {i: build_frame(s.mac, r.mac, size, slot=i, seq=i) for i, size in enumerate(SIZES)}
    with RawCapture(s) as cap:
        send_frames(s, frames.values())
        got = cap.collect(len(frames), ARRIVAL_TIMEOUT)
    bounced = {i: swap_macs(f) for i, f in frames.items()}
    what = f"XDP_TX ({mode}) on {r}"
    check_delivered(got, {(i, i): f for i, f in bounced.items()}, f"{what}, back at {s}")
    check_far_records(far, bounced, what)
    totals = prog.totals()
    mb = sum(1 for f in frames.values() if veth_shape(len(f)).nr_frags)
    nbytes = sum(len(f) for f in frames.values())
    assert totals.bucket("tx") == (len(frames), nbytes, mb), f"{what}: tallied {totals}"


KINDS = {"bpf_redirect": R_IFINDEX, "devmap": R_MAP, "devmap-broadcast": R_BROADCAST}


@pytest.mark.parametrize("kind", KINDS, ids=str)
@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_redirect(
    jumbo_redirect: JumboRedirect, attach_prog: AttachProg, mode: XdpMode, kind: str
) -> None:
    t = jumbo_redirect
    far = attach_prog(t.target_peer, XdpMode.NATIVE)
    far.configure(Config(verdict=XDP_PASS, copy=True))
    prog = attach_prog(t.receiver, mode)
    prog.configure(Config(verdict=XDP_REDIRECT, redirect=KINDS[kind], ifindex=t.target.ifindex))
    if kind != "bpf_redirect":
        prog.set_devmap(t.receiver.ns, 0, t.target.ifindex)
    frames = {
        i: build_frame(t.sender.mac, t.receiver.mac, size, slot=i, seq=i)
        for i, size in enumerate(SIZES)
    }
    with RawCapture(t.target_peer) as cap:
        send_frames(t.sender, frames.values())
        got = cap.collect(len(frames), ARRIVAL_TIMEOUT)
    what = f"{kind} ({mode}) from {t.receiver} to {t.target}"
    check_delivered(got, {(i, i): f for i, f in frames.items()}, f"{what}, at {t.target_peer}")
    check_far_records(far, frames, what)
    totals = prog.totals()
    mb = sum(1 for f in frames.values() if veth_shape(len(f)).nr_frags)
    nbytes = sum(len(f) for f in frames.values())
    assert totals.bucket("redirect") == (len(frames), nbytes, mb), f"{what}: tallied {totals}"
