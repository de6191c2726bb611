"""BPF_PROG_TEST_RUN is counted: every repetition, on the device the run is attributed to.

That is the device of xdp_md.ingress_ifindex when the caller passes a
context with it, otherwise the loopback device of the caller's network
namespace. Runs happen in a fresh namespace, whose loopback nothing else
touches, so the counts are exact.
"""

from __future__ import annotations

from collections.abc import Callable

from xdplib.bpfobj import BPF_F_TEST_XDP_LIVE_FRAMES, prog_test_run
from xdplib.netns import NetNS, create_veth, inside
from xdplib.traffic import Flow, build_frame, make_markers
from xdplib.xdp_stats import XdpCounters, XdpStatsReader, XdpStatsSysctl
from xscommon import SELECTOR, VerdictProg, mismatch

REPEAT = 1000
XDP_DROP = 1


def _frame(selector: str) -> bytes:
    flow = Flow(src_mac="02:00:00:00:00:01", dst_mac="02:00:00:00:00:02")
    return build_frame(flow, make_markers(1, selector)[0])


def test_repetitions_counted_on_loopback(
    counting: XdpStatsSysctl,
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    stats: XdpStatsReader,
) -> None:
    ns, prog, frame = make_netns(), verdict_prog(), _frame(SELECTOR["drop"])
    before, tally_before = stats.lo(ns), prog.tally()

    with inside(ns):
        res = prog_test_run(prog.fd, frame, repeat=REPEAT)

    assert res.retval == XDP_DROP, f"the program should drop the frame, returned {res.retval}"
    dropped = XdpCounters.of(drop=(REPEAT, REPEAT * len(frame)))
    tally = prog.tally() - tally_before
    assert tally.crafted == dropped, mismatch("the program's tally", dropped, tally.crafted)
    now = stats.lo(ns) - before
    assert now == dropped, mismatch(f"lo of {ns.name} after {REPEAT} test runs", dropped, now)


def test_ingress_ifindex_gets_the_counts(
    counting: XdpStatsSysctl,
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    stats: XdpStatsReader,
) -> None:
    ns, prog = make_netns(), verdict_prog()
    a, b = create_veth(ns, "xs0", ns, "xs1")
    frame = _frame(SELECTOR["pass"])
    before_a, before_b, before_lo = stats.counters(a), stats.counters(b), stats.lo(ns)

    with inside(ns):
        res = prog_test_run(prog.fd, frame, repeat=REPEAT, ingress_ifindex=a.ifindex)

    assert res.retval == 2, f"the program should pass the frame, returned {res.retval}"
    passed = XdpCounters.of(pass_=(REPEAT, REPEAT * len(frame)))
    now_a = stats.counters(a) - before_a
    assert now_a == passed, mismatch(f"{a} (ingress_ifindex)", passed, now_a)
    for what, now in (("lo", stats.lo(ns) - before_lo), (str(b), stats.counters(b) - before_b)):
        zero = XdpCounters()
        assert now == zero, mismatch(f"{what} (not the ingress device)", zero, now)


def test_live_frames_counted_on_loopback(
    counting: XdpStatsSysctl,
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    stats: XdpStatsReader,
) -> None:
    ns, prog, frame = make_netns(), verdict_prog(), _frame(SELECTOR["drop"])
    before, tally_before = stats.lo(ns), prog.tally()

    with inside(ns):
        prog_test_run(prog.fd, frame, repeat=REPEAT, flags=BPF_F_TEST_XDP_LIVE_FRAMES)

    dropped = XdpCounters.of(drop=(REPEAT, REPEAT * len(frame)))
    tally = prog.tally() - tally_before
    assert tally.crafted == dropped, mismatch("the program's tally", dropped, tally.crafted)
    now = stats.lo(ns) - before
    assert now == dropped, mismatch(f"lo of {ns.name} after {REPEAT} live frames", dropped, now)


def test_not_counted_while_off(
    sysctl: XdpStatsSysctl,
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    stats: XdpStatsReader,
) -> None:
    ns, prog, frame = make_netns(), verdict_prog(), _frame(SELECTOR["drop"])
    sysctl.write(1)  # counters for ns's lo
    sysctl.write(0)
    before, tally_before = stats.lo(ns), prog.tally()

    with inside(ns):
        prog_test_run(prog.fd, frame, repeat=REPEAT)

    tally = prog.tally() - tally_before
    assert tally.crafted.drop_packets == REPEAT, f"the program ran {tally.crafted} times"
    now = stats.lo(ns) - before
    assert now == XdpCounters(), mismatch("lo with counting off", XdpCounters(), now)
