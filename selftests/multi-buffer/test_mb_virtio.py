"""Multi-buffer XDP on virtio_net, over QEMU's network loop.

The guest's two virtio_net NICs (virtme-ng --network loop: two hub ports of
one QEMU hub) take MTU 9000, and QEMU carries 9014-byte frames between them.
virtio_net negotiated mergeable receive buffers (VIRTIO_NET_F_MRG_RXBUF:
xdp_features has rx-sg), so a jumbo frame spans several buffers and a
program loaded with BPF_F_XDP_HAS_FRAGS gets it as a multi-buffer frame.

Buffers posted while a program is attached are PAGE_SIZE less headroom and
skb_shared_info: 3520 bytes, the first 12 the virtio-net header
(mbcommon.virtio_shape); the linear area ends at the skb_shared_info, so a
pull past it moves the head data into the headroom (256 bytes and the
header, less a struct xdp_frame: 228), and more is -ENOMEM, as on veth.
Buffers posted before the program was attached have no XDP headroom:
virtio_net copies the first one of a frame into a page of its own
(mergeable_xdp_get_buf()), which leaves room up to 3508 linear bytes, 228
more with the headroom. That is where bpf_xdp_pull_data() moves most bytes
on real traffic: into the copy, from frags that are page_frag memory
released with page_frag_free(). Each test first runs 600 small frames through the
receiver to have the ring in the state it wants.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable

from mbcommon import (
    DST_IP,
    MAX_HEAD,
    OP_PULL,
    OP_PULL_HEAD_PLUS,
    OP_PULL_LEN_PLUS,
    OP_TAIL,
    VIRTIO_LINEAR_MAX,
    VIRTIO_PULL_HEADROOM,
    VIRTIO_XDP_BUF,
    XDP_DROP,
    XDP_PASS,
    XDP_TX,
    AttachProg,
    Config,
    Jumbo,
    LoadProg,
    MbProg,
    RawCapture,
    Shape,
    UdpSink,
    add_ipv4,
    build_frame,
    check_delivered,
    first_difference,
    payload_for,
    pulled_shape,
    send_frames,
    swap_macs,
    virtio_shape,
)
from mbstats import MbStats, counters_diff, expected_counters
from xdplib import xdp_attach
from xdplib.netns import Port
from xdplib.traffic import ARRIVAL_TIMEOUT
from xdplib.xdp_attach import XdpMode

RING_CYCLE = 600  # small frames: more than the receive ring holds (256 by default)
CYCLE_SLOT = 31
SIZES = (1000, 3508, 3509, 4000, 7028, 7029, 9014)


def rx_packets(port: Port) -> int:
    return int(port.ns.link(port.ifname).get_attr("IFLA_STATS64")["rx_packets"])


def cycle_ring(vj: Jumbo, seen: Callable[[], int]) -> None:
    """Send small frames until the receiver took RING_CYCLE of them (``seen()`` counts
    them): every receive buffer posted before has been used and replaced."""
    s, r = vj.sender, vj.receiver
    start = seen()
    seq = 0
    deadline = time.monotonic() + 120
    while seen() - start < RING_CYCLE and time.monotonic() < deadline:
        frames = [build_frame(s.mac, r.mac, 64, CYCLE_SLOT, seq + k) for k in range(50)]
        seq += 50
        send_frames(s, frames)
        time.sleep(0.05)
    assert seen() - start >= RING_CYCLE, f"{r} took {seen() - start} of the small frames"


def attach_after_cycle(vj: Jumbo, attach_prog: AttachProg) -> MbProg:
    """A program on the receiver, then the ring cycled: buffers with XDP headroom."""
    prog = attach_prog(vj.receiver, XdpMode.NATIVE)
    prog.configure(Config(verdict=XDP_DROP))
    cycle_ring(vj, lambda: prog.totals().frames)
    return prog


def attach_before_cycle(vj: Jumbo, mb_prog: LoadProg) -> MbProg:
    """The ring cycled without a program, then the program: buffers without headroom."""
    cycle_ring(vj, lambda: rx_packets(vj.receiver))
    prog = mb_prog()
    r = vj.receiver
    xdp_attach.attach_verified(r.ns.ipr, r.ifindex, prog.fd, XdpMode.NATIVE, what=str(r))
    return prog


def send_sizes(vj: Jumbo, prog: MbProg, sizes: tuple[int, ...], seq: int) -> dict[int, bytes]:
    """One frame per size, slot i; returns them by slot once the program saw them."""
    s, r = vj.sender, vj.receiver
    frames = {
        i: build_frame(s.mac, r.mac, size, slot=i, seq=seq + i) for i, size in enumerate(sizes)
    }
    before = prog.totals().frames
    send_frames(s, frames.values())
    got = prog.wait_frames(before + len(frames))
    assert got.frames == before + len(frames), f"the program saw {got.frames - before} frames"
    return frames


def test_virtio_jumbo_frames_arrive_as_frags(
    virtio_jumbo: Jumbo, attach_prog: AttachProg, stats: MbStats
) -> None:
    vj = virtio_jumbo
    prog = attach_after_cycle(vj, attach_prog)
    stats.enable(vj.receiver)
    base = stats.get(vj.receiver)
    prog.configure(Config(verdict=XDP_PASS, copy=True))
    with RawCapture(vj.receiver) as cap:
        frames = send_sizes(vj, prog, SIZES, 0)
        got = cap.collect(len(frames), ARRIVAL_TIMEOUT)
    for slot, frame in frames.items():
        rec = prog.rec(slot)
        want = virtio_shape(len(frame))
        assert rec.before == want, (
            f"{len(frame)}-byte frame: the program saw {rec.before}, expected {want}"
        )
        diff = first_difference(rec.frame, frame)
        assert not diff, f"{len(frame)}-byte frame read with dynptr slices: {diff}"
        diff = first_difference(rec.head, frame[: min(want.head, 4096)])
        assert not diff, f"{len(frame)}-byte frame's linear area: {diff}"
    check_delivered(got, {(i, i): f for i, f in frames.items()}, f"XDP_PASS at {vj.receiver}")
    now = stats.get(vj.receiver)
    delta = {k: now[k] - base[k] for k in now}
    mb = sum(1 for f in frames.values() if virtio_shape(len(f)).nr_frags)
    want_counters = expected_counters(pass_=(len(frames), sum(map(len, frames.values())), mb))
    assert delta == want_counters, "xdp-stats: " + counters_diff(delta, want_counters)


def test_virtio_pull_into_full_linear_area(virtio_jumbo: Jumbo, attach_prog: AttachProg) -> None:
    """Buffers posted with XDP headroom: the linear area has no tailroom, only the
    headroom (228 bytes) is left."""
    vj = virtio_jumbo
    prog = attach_after_cycle(vj, attach_prog)
    seq = 0
    room = VIRTIO_PULL_HEADROOM
    ops = (
        (OP_PULL_HEAD_PLUS, 1),
        (OP_PULL_HEAD_PLUS, room),
        (OP_PULL_HEAD_PLUS, room + 1),
        (OP_PULL_LEN_PLUS, 0),
        (OP_PULL_LEN_PLUS, 1),
    )
    for op, arg in ops:
        prog.configure(Config(verdict=XDP_PASS, op=op, arg=arg, copy=True))
        frames = send_sizes(vj, prog, SIZES, seq)
        seq += len(frames)
        for slot, frame in frames.items():
            shape = virtio_shape(len(frame))
            length = {OP_PULL_HEAD_PLUS: shape.head, OP_PULL_LEN_PLUS: len(frame)}[op] + arg
            want, after = 0, shape
            if length > len(frame):
                want = -errno.EINVAL
            elif length - shape.head > room:
                want = -errno.ENOMEM
            elif length > shape.head:
                after = pulled_shape(shape, length, VIRTIO_XDP_BUF)
            rec = prog.rec(slot)
            what = f"pull {length} of a {len(frame)}-byte frame ({shape})"
            assert (rec.ret, rec.after) == (want, after), (
                f"{what}: returned {rec.ret}, {rec.after}; expected {want}, {after}"
            )
            assert rec.frame == frame, f"{what}: {first_difference(rec.frame, frame)}"
            diff = first_difference(rec.head, frame[: min(after.head, MAX_HEAD)])
            assert not diff, f"{what}: the linear area by direct packet access: {diff}"


VIRTIO_PULL_MAX = VIRTIO_LINEAR_MAX + VIRTIO_PULL_HEADROOM  # 3736

# Pulls on frames in buffers posted before the program: (op, arg) and the frames
# they apply to. The first buffer's size varies (1536 bytes, more at the end of a
# page frag): expectations follow from what the program saw before the pull.
PULLS = (
    (OP_PULL_HEAD_PLUS, 1),  # one byte from the first frag
    (OP_PULL, 3060),  # a 3060-byte frame whole: every frag released
    (OP_PULL, VIRTIO_LINEAR_MAX),  # as much as the copy has tailroom for
    (OP_PULL, VIRTIO_PULL_MAX),  # and headroom
    (OP_PULL, VIRTIO_PULL_MAX + 1),  # one more: -ENOMEM
    (OP_PULL_LEN_PLUS, 1),  # past the frame: -EINVAL
)
PULL_SIZES = (3060, 3520, 9014)


def expected_pull(before: Shape, length: int) -> tuple[int, Shape]:
    if length <= before.head:
        return 0, before
    if length > before.buff_len:
        return -errno.EINVAL, before
    if length > VIRTIO_PULL_MAX:
        return -errno.ENOMEM, before
    moved = length - before.head
    return 0, Shape(length, -1, before.frags_len - moved, before.buff_len)  # nr_frags: see below


def test_virtio_pull_moves_bytes(virtio_jumbo: Jumbo, mb_prog: LoadProg) -> None:
    vj = virtio_jumbo
    prog = attach_before_cycle(vj, mb_prog)
    add_ipv4(vj.receiver, DST_IP)
    sink = UdpSink(vj.receiver.ns)
    released = 0
    try:
        seq = 0
        for op, arg in PULLS:
            prog.configure(Config(verdict=XDP_PASS, op=op, arg=arg, copy=True))
            frames = send_sizes(vj, prog, PULL_SIZES, seq)
            for slot, frame in frames.items():
                rec = prog.rec(slot)
                before = rec.before
                what = f"({op}, {arg}) on a {len(frame)}-byte frame, {before}"
                assert before.nr_frags > 0 and before.buff_len == len(frame), what
                assert before.head < 3060, f"{what}: not in a buffer posted before the program"
                length = {
                    OP_PULL: arg,
                    OP_PULL_HEAD_PLUS: before.head + arg,
                    OP_PULL_LEN_PLUS: len(frame) + arg,
                }[op]
                ret, after = expected_pull(before, length)
                assert rec.ret == ret, f"{what}: pull {length} returned {rec.ret}, expected {ret}"
                got = rec.after
                if after.nr_frags >= 0:
                    assert got == after, f"{what}: after the call {got}, expected {after}"
                else:
                    # each frag is a whole receive buffer but the last: frags emptied
                    # by the pull are released, the rest stay
                    assert (got.head, got.frags_len, got.buff_len) == (
                        after.head,
                        after.frags_len,
                        after.buff_len,
                    ), f"{what}: after the call {got}, expected {after}"
                    assert (got.nr_frags == 0) == (got.frags_len == 0), f"{what}: {got}"
                    assert got.nr_frags <= before.nr_frags, f"{what}: {got}"
                    released += before.nr_frags - got.nr_frags
                diff = first_difference(rec.head, frame[: got.head])
                assert not diff, f"{what}: the linear area by direct packet access: {diff}"
                diff = first_difference(rec.frame, frame)
                assert not diff, f"{what}: the frame after the pull: {diff}"
            datagrams = sink.collect(len(frames), ARRIVAL_TIMEOUT)
            want = sorted(payload_for(len(f), s, seq + s) for s, f in frames.items())
            assert sorted(datagrams) == want, (
                f"({op}, {arg}): the UDP socket got {[len(d) for d in datagrams]}, "
                "expected the payloads byte for byte"
            )
            sink.datagrams.clear()
            seq += len(frames)
    finally:
        sink.close()
    totals = prog.totals()
    assert totals.frags_released == released and released >= 3, (
        f"the program saw {totals.frags_released} frags released, the records {released}"
    )


def test_virtio_shrink(virtio_jumbo: Jumbo, attach_prog: AttachProg) -> None:
    """Frags of virtio_net are page_frag memory: emptied ones go back by page_frag_free()."""
    vj = virtio_jumbo
    prog = attach_after_cycle(vj, attach_prog)
    cases = (
        (4000, -100, Shape(3508, 1, 392, 3900)),
        (4000, -492, Shape(3508, 0, 0, 3508)),  # the only frag, released
        (9014, -1986, Shape(3508, 1, 3520, 7028)),  # the last frag, released
        (9014, -2086, Shape(3508, 1, 3420, 6928)),  # and 100 bytes of the one before
        (4000, -592, Shape(3408, 0, 0, 3408)),  # the frag and 100 linear bytes
    )
    seq = 0
    for size, delta, after in cases:
        prog.configure(Config(verdict=XDP_PASS, op=OP_TAIL, arg=delta, copy=True))
        with RawCapture(vj.receiver) as cap:
            frames = send_sizes(vj, prog, (size, size), seq)
            got = cap.collect(len(frames), ARRIVAL_TIMEOUT)
        what = f"shrink {delta} of a {size}-byte frame"
        for slot in frames:
            rec = prog.rec(slot)
            assert (rec.ret, rec.before, rec.after) == (0, virtio_shape(size), after), (
                f"{what}: returned {rec.ret}, {rec.before} -> {rec.after}, expected {after}"
            )
        want = {(s, seq + s): f[: after.buff_len] for s, f in frames.items()}
        check_delivered(got, want, f"{what}, at {vj.receiver}")
        seq += len(frames)


def test_virtio_tx(virtio_jumbo: Jumbo, attach_prog: AttachProg) -> None:
    """XDP_TX sends a multi-buffer frame back over the hub, whole."""
    vj = virtio_jumbo
    prog = attach_after_cycle(vj, attach_prog)
    prog.configure(Config(verdict=XDP_TX))
    with RawCapture(vj.sender) as cap:
        frames = send_sizes(vj, prog, SIZES, 0)
        got = cap.collect(len(frames), ARRIVAL_TIMEOUT)
    want = {(i, i): swap_macs(f) for i, f in frames.items()}
    check_delivered(got, want, f"XDP_TX on {vj.receiver}, back at {vj.sender}")
    mb = sum(1 for f in frames.values() if virtio_shape(len(f)).nr_frags)
    totals = prog.totals()
    assert totals.bucket("tx") == (len(frames), sum(map(len, frames.values())), mb), totals
