"""bpf_xdp_pull_data(): exact results, errors that leave the frame as it was.

Through BPF_PROG_TEST_RUN, ctx.data_end chooses the linear length and the
kernel puts the rest in frags of a page each, in a buffer whose linear area
can grow to LINEAR_MAX (3520) bytes, and 216 more when the head data moves
down into the headroom (256 bytes, less a struct xdp_frame): pulls into a
frag, of a whole frag (released: the frame becomes linear), into the
headroom, and every error, each checked against
the frame returned in data_out, the bytes the program read with direct
packet access after the pull and with dynptr slices.

On veth (native and generic XDP) a multi-buffer frame's linear area is full
(skb_pp_cow_data() allocates it to the byte, see mbcommon): a pull of up to
216 bytes past it moves the head data into the headroom (a 3521-byte
frame's only frag, 1 byte, is released), more is -ENOMEM and leaves the
frame unchanged; either way XDP_PASS delivers it byte for byte to a UDP
socket. virtio_net's buffers posted before the program was attached are
copied into a page with tailroom: test_mb_virtio.py.

Bad input: a length of 0 (nothing to do), past the frame (-EINVAL), a
"negative" one (the u32 is larger than any frame: -EINVAL), on a
single-buffer frame (-EINVAL past its end), from a program without
BPF_F_XDP_HAS_FRAGS (generic XDP linearizes its frames: the same answers).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

import pytest
from mbcommon import (
    DST_IP,
    LINEAR_MAX,
    MAX_HEAD,
    OP_PULL,
    OP_PULL_HEAD_PLUS,
    OP_PULL_LEN_PLUS,
    PAGE_SIZE,
    VETH_PULL_HEADROOM,
    XDP_PASS,
    AttachProg,
    Config,
    Jumbo,
    LoadProg,
    MbProg,
    Shape,
    UdpSink,
    add_ipv4,
    build_frame,
    first_difference,
    payload_for,
    pulled_shape,
    send_frames,
    veth_shape,
)
from xdplib.traffic import ARRIVAL_TIMEOUT
from xdplib.xdp_attach import BOTH_MODES, XdpMode

ENOMEM, EINVAL = -errno.ENOMEM, -errno.EINVAL
ROOM = VETH_PULL_HEADROOM  # 216
U32_MINUS_ONE = -1  # config.arg is an s32: the kfunc gets 0xffffffff

# ---- BPF_PROG_TEST_RUN ------------------------------------------------------------------


@dataclass(frozen=True)
class RunCase:
    name: str
    size: int
    linear: int
    pull: int
    ret: int
    after: Shape | None  # None: unchanged


def _frags(size: int, linear: int) -> Shape:
    """The test run's layout: ``linear`` bytes, then frags of a page."""
    rest = size - linear
    return Shape(linear, -(-rest // 4096), rest, size)


RUN_CASES = (
    # into the first frag (4096 + 4096 + 608 bytes): it shrinks from the front
    RunCase("into-first-frag", 9000, 200, 1000, 0, Shape(1000, 3, 8000, 9000)),
    RunCase("up-to-linear-max", 9000, 200, LINEAR_MAX, 0, Shape(LINEAR_MAX, 3, 5480, 9000)),
    # past the tailroom: the head data moves down into the headroom
    RunCase("into-headroom", 9000, 200, LINEAR_MAX + 1, 0, Shape(LINEAR_MAX + 1, 3, 5479, 9000)),
    RunCase("all-of-headroom", 9000, 200, LINEAR_MAX + ROOM, 0, Shape(3736, 3, 5264, 9000)),
    RunCase("past-headroom", 9000, 200, LINEAR_MAX + ROOM + 1, ENOMEM, None),
    # the whole frag (1000 bytes): released, the frame becomes linear
    RunCase("whole-frag", 1200, 200, 1200, 0, Shape(1200, 0, 0, 1200)),
    RunCase("part-of-only-frag", 1200, 200, 700, 0, Shape(700, 1, 500, 1200)),
    # nothing to do
    RunCase("within-linear", 9000, 1000, 500, 0, None),
    RunCase("exactly-linear", 9000, 1000, 1000, 0, None),
    RunCase("zero", 9000, 1000, 0, 0, None),
    # bad lengths
    RunCase("frame-plus-one", 9000, 1000, 9001, EINVAL, None),
    RunCase("negative", 9000, 1000, U32_MINUS_ONE, EINVAL, None),
    RunCase("whole-frame-no-room", 9000, 1000, 9000, ENOMEM, None),
    # single-buffer frames
    RunCase("single-buffer-plus-one", 300, 300, 301, EINVAL, None),
    RunCase("single-buffer-whole", 300, 300, 300, 0, None),
    RunCase("single-buffer-zero", 300, 300, 0, 0, None),
    RunCase("single-buffer-negative", 300, 300, U32_MINUS_ONE, EINVAL, None),
)


def run_pull(prog: MbProg, case: RunCase) -> None:
    frame = build_frame("02:00:00:00:00:01", "02:00:00:00:00:02", case.size, seq=case.size)
    prog.configure(Config(verdict=XDP_PASS, op=OP_PULL, arg=case.pull, copy=True))
    res = prog.test_run(frame, case.linear)
    before = _frags(case.size, case.linear)
    after = case.after or before
    rec = prog.rec(0)
    length = case.pull & 0xFFFFFFFF
    what = f"{case.name}: pull {length} of a {case.size}-byte frame, {case.linear} linear"
    assert res.retval == XDP_PASS, f"{what}: the program returned {res.retval}"
    assert rec.before == before, f"{what}: the frame was {rec.before}, expected {before}"
    assert rec.ret == case.ret, (
        f"{what}: bpf_xdp_pull_data() returned {rec.ret}, expected {case.ret}"
    )
    assert rec.after == after, f"{what}: after the call {rec.after}, expected {after}"
    diff = first_difference(rec.head, frame[: after.head])
    assert not diff, f"{what}: the linear area after the call, by direct packet access: {diff}"
    diff = first_difference(rec.frame, frame)
    assert not diff, f"{what}: the frame after the call, by dynptr slices: {diff}"
    diff = first_difference(res.data_out, frame)
    assert not diff, f"{what}: data_out: {diff}"


@pytest.mark.parametrize("case", RUN_CASES, ids=lambda c: c.name)
def test_pull_test_run(mb_prog: LoadProg, case: RunCase) -> None:
    run_pull(mb_prog(), case)


def test_pull_test_run_program_without_frags(mb_prog: LoadProg) -> None:
    """BPF_PROG_TEST_RUN hands a multi-buffer frame to a program loaded without
    BPF_F_XDP_HAS_FRAGS (6.12's test_run does not look at the flag), although the
    kfuncs' comments say such a program only ever gets single-buffer frames: the
    kfuncs tell it the truth, and the pull works as for any program."""
    prog = mb_prog(frags=False)
    run_pull(prog, RunCase("no-frags-flag", 9000, 1000, 1500, 0, Shape(1500, 2, 7500, 9000)))
    run_pull(prog, RunCase("no-frags-flag-past-frame", 9000, 1000, 9001, EINVAL, None))


# ---- real traffic on veth -----------------------------------------------------------------

SIZES = (1000, 3521, 9014)


@dataclass(frozen=True)
class TrafficCase:
    name: str
    op: int
    arg: int

    def expected(self, shape: Shape) -> tuple[int, Shape]:
        """bpf_xdp_pull_data()'s return, and the layout after it, for a frame of
        this layout on veth."""
        length = {
            OP_PULL: self.arg & 0xFFFFFFFF,
            OP_PULL_HEAD_PLUS: shape.head + self.arg,
            OP_PULL_LEN_PLUS: shape.buff_len + self.arg,
        }[self.op]
        if length <= shape.head:
            return 0, shape
        if length > shape.buff_len:
            return EINVAL, shape
        assert shape.nr_frags
        # the linear area of a multi-buffer frame is full: only the headroom is left
        if length - shape.head > VETH_PULL_HEADROOM:
            return ENOMEM, shape
        return 0, pulled_shape(shape, length, PAGE_SIZE)


TRAFFIC_CASES = (
    TrafficCase("zero", OP_PULL, 0),
    TrafficCase("linear-length", OP_PULL_HEAD_PLUS, 0),
    TrafficCase("linear-plus-one", OP_PULL_HEAD_PLUS, 1),
    TrafficCase("linear-plus-headroom", OP_PULL_HEAD_PLUS, VETH_PULL_HEADROOM),
    TrafficCase("past-headroom", OP_PULL_HEAD_PLUS, VETH_PULL_HEADROOM + 1),
    TrafficCase("whole-frame", OP_PULL_LEN_PLUS, 0),
    TrafficCase("frame-plus-one", OP_PULL_LEN_PLUS, 1),
    TrafficCase("negative", OP_PULL, U32_MINUS_ONE),
)


def pull_and_deliver(jumbo: Jumbo, prog: MbProg, frags: bool, what: str) -> None:
    s, r = jumbo.sender, jumbo.receiver
    add_ipv4(r, DST_IP)
    sink = UdpSink(r.ns)
    try:
        seq = 0
        for case in TRAFFIC_CASES:
            prog.configure(Config(verdict=XDP_PASS, op=case.op, arg=case.arg, copy=True))
            frames = []
            for slot, size in enumerate(SIZES):
                frames.append(build_frame(s.mac, r.mac, size, slot=slot, seq=seq))
                seq += 1
            send_frames(s, frames)
            prog.wait_frames(seq)
            for slot, frame in enumerate(frames):
                size = len(frame)
                shape = veth_shape(size) if frags else Shape(size, 0, 0, size)
                want, after = case.expected(shape)
                rec = prog.rec(slot)
                label = f"{what}: {case.name}, {size}-byte frame"
                assert rec.before == shape, f"{label}: the frame was {rec.before}"
                assert rec.ret == want, (
                    f"{label}: bpf_xdp_pull_data() returned {rec.ret}, expected {want}"
                )
                assert rec.after == after, f"{label}: after the call {rec.after}, want {after}"
                diff = first_difference(rec.head, frame[: min(after.head, MAX_HEAD)])
                assert not diff, f"{label}: the linear area by direct packet access: {diff}"
                diff = first_difference(rec.frame, frame)
                assert not diff, f"{label}: the frame after the call: {diff}"
            got = sink.collect(len(frames), ARRIVAL_TIMEOUT)
            want_payloads = sorted(
                payload_for(len(f), i, seq - len(frames) + i) for i, f in enumerate(frames)
            )
            assert sorted(got) == want_payloads, (
                f"{what}: {case.name}: the UDP socket got {len(got)} datagrams "
                f"({[len(g) for g in got]}), expected the {len(frames)} payloads byte for byte"
            )
            sink.datagrams.clear()
    finally:
        sink.close()


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_pull_on_veth(jumbo: Jumbo, attach_prog: AttachProg, mode: XdpMode) -> None:
    pull_and_deliver(jumbo, attach_prog(jumbo.receiver, mode), True, f"{mode}")


def test_pull_on_veth_program_without_frags(jumbo: Jumbo, attach_prog: AttachProg) -> None:
    """Generic XDP linearizes the frames of a program without frags: pulls within them
    succeed (nothing to do), past them are -EINVAL."""
    prog = attach_prog(jumbo.receiver, XdpMode.GENERIC, frags=False)
    pull_and_deliver(jumbo, prog, False, "generic, no frags")
