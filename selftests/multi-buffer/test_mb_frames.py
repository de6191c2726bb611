"""Jumbo frames reach XDP programs as multi-buffer frames, and programs read them whole.

veth at MTU 9000, native and generic XDP: a frame of L bytes is laid out as
mbcommon.veth_shape(L) says (LINEAR_MAX = 3520 bytes linear, then frags of
a page), which the program sees through bpf_xdp_frags_count(),
bpf_xdp_frags_len() and bpf_xdp_get_buff_len(). It copies the frame into a
map with bpf_dynptr_slice() (across frags) and its linear area with direct
packet access; both are compared byte for byte with what was sent, and
XDP_PASS delivers the frame intact.

A program without BPF_F_XDP_HAS_FRAGS is refused natively at this MTU (veth:
"Peer MTU is too large to set XDP") and, in generic mode, gets every frame
linearized: no frags, and the kfuncs say so.
"""

from __future__ import annotations

import errno

import pytest
from mbcommon import (
    XDP_PASS,
    AttachProg,
    Config,
    Jumbo,
    LoadProg,
    RawCapture,
    build_frame,
    check_delivered,
    first_difference,
    linear_shape,
    send_frames,
    veth_shape,
)
from xdplib import xdp_attach
from xdplib.refusals import xdp_refused
from xdplib.traffic import ARRIVAL_TIMEOUT
from xdplib.xdp_attach import BOTH_MODES, XdpMode

# Around the 3520-byte linear area and the page-sized frags after it.
SIZES = (1000, 3520, 3521, 4000, 7616, 7617, 9014)


def send_and_record(jumbo: Jumbo, prog_frags: AttachProg, mode: XdpMode, frags: bool) -> None:
    """Send one frame of each size; check the program's records and the delivery."""
    s, r = jumbo.sender, jumbo.receiver
    prog = prog_frags(r, mode, frags)
    prog.configure(Config(verdict=XDP_PASS, copy=True))
    frames = [build_frame(s.mac, r.mac, size, slot=i, seq=i) for i, size in enumerate(SIZES)]
    with RawCapture(r) as cap:
        send_frames(s, frames)
        totals = prog.wait_frames(len(frames))
        got = cap.collect(len(frames), ARRIVAL_TIMEOUT)
    mb = sum(1 for size in SIZES if veth_shape(size).nr_frags) if frags else 0
    assert (totals.frames, totals.mb_in, totals.copy_fail) == (len(frames), mb, 0), totals
    for i, frame in enumerate(frames):
        rec = prog.rec(i)
        size = len(frame)
        want = veth_shape(size) if frags else linear_shape(size)
        what = f"{mode}, {'frags' if frags else 'no frags'}, {size}-byte frame"
        assert rec.seen == 1, f"{what}: seen {rec.seen} times"
        assert rec.before == want, f"{what}: the program saw {rec.before}, expected {want}"
        assert rec.after == want, f"{what}: nothing changed it, yet {rec.after}"
        diff = first_difference(rec.frame, frame)
        assert not diff, f"{what}: read with dynptr slices: {diff}"
        head = min(want.head, 4096)
        diff = first_difference(rec.head, frame[:head])
        assert not diff, f"{what}: linear area with direct packet access: {diff}"
    check_delivered(got, {(i, i): f for i, f in enumerate(frames)}, f"XDP_PASS ({mode}) at {r}")


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_jumbo_frames_arrive_as_frags(jumbo: Jumbo, attach_prog: AttachProg, mode: XdpMode) -> None:
    send_and_record(jumbo, attach_prog, mode, frags=True)


def test_program_without_frags_gets_linear_frames(jumbo: Jumbo, attach_prog: AttachProg) -> None:
    """Generic XDP linearizes what a program without frags would see."""
    send_and_record(jumbo, attach_prog, XdpMode.GENERIC, frags=False)


def test_program_without_frags_refused_natively(jumbo: Jumbo, mb_prog: LoadProg) -> None:
    r = jumbo.receiver
    prog = mb_prog(frags=False)
    xdp_refused(
        r,
        lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, prog.fd, XdpMode.NATIVE),
        errno.ERANGE,
        "Peer MTU is too large to set XDP",
        exact=False,
    )
