"""100k pulls and 100k frag-releasing shrinks leave no memory behind.

Pulls: 100k BPF_PROG_TEST_RUNs, one at a time (with repeat, the same frame
would be pulled once and be linear for the other repetitions), each of a
1200-byte frame with 200 bytes linear whose one frag, a page of its own,
the pull empties and releases. Shrinks: 100k frames of 4520 bytes through
generic XDP on veth (3520 linear, a 1000-byte frag from the system
page_pool), shrunk by 1000 bytes: the frag is released each time.

Before and after, once the caches are dropped: MemAvailable may not drop by
more than TOLERANCE_KB. Leaking what each operation releases would take
100k pages (390 MiB) for the pulls and 100k 1000-byte page_pool fragments
(at least 98 MiB) for the shrinks; 8 MiB is 2048 pages: a leak on 1 in 50
operations would exceed it. What legitimately moves in between is bounded
and filled during a warm-up of WARMUP operations before the first reading:
the per-CPU page lists and the page_pool caches (the system page_pool keeps
a few hundred pages per CPU), slab caches. The programs count every pull
and release, which must match the operations exactly.
"""

from __future__ import annotations

from collections.abc import Callable

from mbcommon import (
    OP_PULL,
    OP_TAIL,
    XDP_DROP,
    AttachProg,
    Blaster,
    Config,
    Jumbo,
    LoadProg,
    MbProg,
    TestRunLoop,
    build_frame,
    settled_meminfo,
)
from xdplib.xdp_attach import XdpMode

N = 100_000
WARMUP = 5_000
TOLERANCE_KB = 8 * 1024
BATCH = 64


Record = Callable[[str, object], None]


def check_memory(before: dict[str, int], after: dict[str, int], what: str, record: Record) -> None:
    """The readings go into junit.xml (record_property) whatever the outcome."""
    for key in ("MemAvailable", "MemFree", "Slab", "SUnreclaim"):
        record(f"{key}_kB", f"{before.get(key)} -> {after.get(key)}")
    lost = before["MemAvailable"] - after["MemAvailable"]
    detail = ", ".join(
        f"{k} {before[k]} -> {after[k]} kB"
        for k in ("MemAvailable", "MemFree", "Slab", "SUnreclaim")
        if k in before
    )
    assert lost <= TOLERANCE_KB, f"{what}: MemAvailable dropped by {lost} kB ({detail})"


def test_pull_loop(mb_prog: LoadProg, record_property: Record) -> None:
    prog = mb_prog()
    prog.configure(Config(verdict=XDP_DROP, op=OP_PULL, arg=1200))
    frame = build_frame("02:00:00:00:00:01", "02:00:00:00:00:02", 1200)
    loop = TestRunLoop(prog.fd, frame, 200)
    assert loop.run(WARMUP) == {XDP_DROP: WARMUP}
    base = prog.totals()
    before = settled_meminfo()
    results = loop.run(N)
    after = settled_meminfo()
    totals = prog.totals()
    assert results == {XDP_DROP: N}, f"test runs returned {results}"
    done = (totals.op_ok - base.op_ok, totals.frags_released - base.frags_released)
    assert done == (N, N) and totals.op_err == 0, f"pulls, releases: {done}; {totals}"
    assert prog.rec(0).after.nr_frags == 0 and prog.rec(0).after.head == 1200, prog.rec(0)
    check_memory(before, after, f"{N} pulls", record_property)


def blast(prog: MbProg, blaster: Blaster, count: int) -> None:
    """``count`` frames, a batch at a time, each batch seen by the program before the
    next (no queue overflows)."""
    base = prog.totals().frames
    sent = 0
    while sent < count:
        n = min(BATCH, count - sent)
        blaster.send(n)
        sent += n
        got = prog.wait_frames(base + sent).frames
        assert got == base + sent, f"the program saw {got - base} of {sent} frames"


def test_generic_shrink_loop(
    jumbo: Jumbo, attach_prog: AttachProg, record_property: Record
) -> None:
    s, r = jumbo.sender, jumbo.receiver
    prog = attach_prog(r, XdpMode.GENERIC)
    prog.configure(Config(verdict=XDP_DROP, op=OP_TAIL, arg=-1000))
    blaster = Blaster(s, build_frame(s.mac, r.mac, 4520), BATCH)
    try:
        blast(prog, blaster, WARMUP)
        base = prog.totals()
        before = settled_meminfo()
        blast(prog, blaster, N)
        after = settled_meminfo()
    finally:
        blaster.close()
    totals = prog.totals()
    done = (
        totals.frames - base.frames,
        totals.op_ok - base.op_ok,
        totals.frags_released - base.frags_released,
    )
    assert done == (N, N, N) and totals.op_err == 0, f"frames, shrinks, releases: {done}"
    check_memory(before, after, f"{N} shrinks", record_property)
