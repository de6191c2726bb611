"""bpf_xdp_adjust_tail() on multi-buffer frames, on veth at MTU 9000, byte for byte.

Shrinking takes bytes off the last frag; a frag it empties is released, and
past the frags the linear area is trimmed. Growing a multi-buffer frame
needs the rx queue's frag_size, which veth and generic XDP do not set in
6.12: -EOPNOTSUPP, the frame unchanged (a single-buffer frame grows into
its tailroom). Every frame is passed and must arrive exactly as the program
left it.

Releasing a whole frag is the case of the multi-buffer series' first patch:
generic XDP used to free it with put_page() although it is a page_pool
fragment (skb_pp_cow_data()), corrupting memory within a few hundred frames
with small last frags (the log is in that patch). The release
tests send frames whose last frag is 1 to 4096 bytes, hundreds of them, and
check every delivered byte, the frags the program saw released, and (the
autouse kernel_log fixture) that the kernel logged no splat. Native veth
builds its multi-buffer frames the same way (skb_pp_cow_data() into its
page_pool) on an rx queue registered as MEM_TYPE_PAGE_SHARED: its release
test runs last (conftest.py), as it takes the kernel down if the release is
wrong there.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

import pytest
from mbcommon import (
    OP_TAIL,
    XDP_PASS,
    AttachProg,
    Config,
    Jumbo,
    MbProg,
    RawCapture,
    Shape,
    build_frame,
    check_delivered,
    first_difference,
    send_frames,
    veth_shape,
)
from xdplib.traffic import ARRIVAL_TIMEOUT
from xdplib.xdp_attach import BOTH_MODES, XdpMode


@dataclass(frozen=True)
class Case:
    size: int
    delta: int
    ret: int
    after: Shape | None  # None: unchanged

    @property
    def delivered_len(self) -> int:
        return self.after.buff_len if self.after else self.size


CASES = (
    # into the last frag: it shrinks
    Case(4000, -100, 0, Shape(3520, 1, 380, 3900)),
    Case(9014, -1000, 0, Shape(3520, 2, 4494, 8014)),
    # more than the frame has past its Ethernet header
    Case(4000, -(4000 - 14 + 1), -errno.EINVAL, None),
    Case(9014, -(9014 - 14 + 1), -errno.EINVAL, None),
    # growing a multi-buffer frame: veth and generic XDP have no rxq frag_size
    Case(4000, 10, -errno.EOPNOTSUPP, None),
    Case(9014, 1, -errno.EOPNOTSUPP, None),
    # a single-buffer frame grows into its tailroom, zeroed
    Case(1000, 10, 0, Shape(1010, 0, 0, 1010)),
)


def expected_bytes(frame: bytes, after: int) -> bytes:
    return frame[:after] + bytes(max(after - len(frame), 0))


def run_cases(prog: MbProg, jumbo: Jumbo, cases: list[Case], copies: int, what: str) -> None:
    """Each case ``copies`` times, in batches; every record and delivery exact."""
    s, r = jumbo.sender, jumbo.receiver
    base = prog.totals()
    sent = base.frames
    released = base.frags_released
    for case in cases:
        prog.configure(Config(verdict=XDP_PASS, op=OP_TAIL, arg=case.delta, copy=True))
        frames = {
            (k % 32, sent + k): build_frame(s.mac, r.mac, case.size, slot=k % 32, seq=sent + k)
            for k in range(copies)
        }
        before = veth_shape(case.size)
        with RawCapture(r) as cap:
            batch = list(frames.items())
            for k in range(0, copies, 32):
                send_frames(s, (f for _, f in batch[k : k + 32]))
                totals = prog.wait_frames(sent + min(k + 32, copies))
                for (slot, _), frame in batch[k : k + 32]:
                    check_record(prog, slot, case, frame, before, what)
            got = cap.collect(copies, ARRIVAL_TIMEOUT)
        sent += copies
        if case.after is not None:
            released += copies * (before.nr_frags - case.after.nr_frags)
        assert totals.frames == sent, f"{what}: the program saw {totals.frames} of {sent} frames"
        assert totals.frags_released == released, (
            f"{what}: the program saw {totals.frags_released} frags released, expected {released}"
        )
        want = {k: expected_bytes(f, case.delivered_len) for k, f in frames.items()}
        check_delivered(got, want, f"{what}: {case} at {r}")


def check_record(
    prog: MbProg, slot: int, case: Case, frame: bytes, before: Shape, what: str
) -> None:
    rec = prog.rec(slot)
    label = f"{what}: {case}"
    assert rec.before == before, f"{label}: the program saw {rec.before}, expected {before}"
    assert rec.ret == case.ret, f"{label}: bpf_xdp_adjust_tail() returned {rec.ret}"
    after = case.after or before
    assert rec.after == after, f"{label}: after the call {rec.after}, expected {after}"
    diff = first_difference(rec.frame, expected_bytes(frame, after.buff_len))
    assert not diff, f"{label}: the frame after the call, read with dynptr slices: {diff}"


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_shrink_and_grow(jumbo: Jumbo, attach_prog: AttachProg, mode: XdpMode) -> None:
    prog = attach_prog(jumbo.receiver, mode)
    run_cases(prog, jumbo, list(CASES), 2, f"{mode}")


def release_cases() -> list[Case]:
    """Shrinks that empty the last frag, for last frags of 1 to 4096 bytes, and that go
    on into the frag (or linear area) before it."""
    cases = []
    for size in (3521, 4000, 4520, 5568, 7616, 7617, 9014):
        shape = veth_shape(size)
        last = shape.frags_len - (shape.nr_frags - 1) * 4096
        exact = Shape(3520, shape.nr_frags - 1, shape.frags_len - last, size - last)
        cases.append(Case(size, -last, 0, exact))
        # 100 bytes more: from the frag before, or from the linear area
        if shape.nr_frags > 1:
            more = Shape(3520, shape.nr_frags - 1, exact.frags_len - 100, exact.buff_len - 100)
        else:
            more = Shape(3420, 0, 0, 3420)
        cases.append(Case(size, -last - 100, 0, more))
    return cases


# The reproducer's frames: 4000 bytes, a 480-byte last frag, released; it crashed an
# unpatched 6.12.118 within 300 of them.
REPRO = Case(4000, -480, 0, Shape(3520, 0, 0, 3520))


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_shrink_releases_frags(jumbo: Jumbo, attach_prog: AttachProg, mode: XdpMode) -> None:
    prog = attach_prog(jumbo.receiver, mode)
    run_cases(prog, jumbo, [REPRO], 320, f"{mode}, release of a 480-byte frag")
    run_cases(prog, jumbo, release_cases(), 16, f"{mode}, releases")
