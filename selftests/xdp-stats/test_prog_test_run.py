"""BPF_PROG_TEST_RUN counts nothing: neither its verdicts, repeated or live, nor the
failures of its live frames' redirects, though the device it names counts.

Runs happen in the receiver's namespace of a redirect_topology, attributed
to the receiver (xdp_md.ingress_ifindex) or, without a context, to the
namespace's loopback device; every device there counts. Tracepoints prove
the live redirects did fail (xdp:xdp_redirect_err, xdp:xdp_devmap_xmit),
and real traffic afterwards proves the receiver was counting all along.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from xdplib.bpfobj import BPF_F_TEST_XDP_LIVE_FRAMES, BpfObject, prog_test_run
from xdplib.netns import Port, inside
from xdplib.topology import RedirectTopology
from xdplib.traffic import Flow, build_frame, exchange_split
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import ZERO, XdpCounters, XdpStatsReader
from xscommon import (
    NO_SUCH_IFINDEX,
    SEL_REDIRECT_IFINDEX,
    SELECTOR,
    AttachFn,
    AttachPassFn,
    TraceFn,
    VerdictProg,
    expect_counters,
    make_batch,
    mismatch,
    read_tally,
)

REPEAT = 1000
LIVE_REPEAT = 64
N = 8


def _frame(t: RedirectTopology, selector: str) -> bytes:
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    return build_frame(flow, make_batch(flow, selector, 1).markers[0])


def _counting_ports(t: RedirectTopology, stats: XdpStatsReader) -> list[Port]:
    ports = [Port.lookup(t.receiver.ns, "lo"), t.receiver, t.target, t.target_peer]
    stats.enable(*ports)
    return ports


def _expect_nothing_counted(stats: XdpStatsReader, ports: list[Port], what: str) -> None:
    for port in ports:
        now = stats.counters(port)
        assert now == ZERO, mismatch(f"{what}: {port}", ZERO, now)


def _control_traffic(
    t: RedirectTopology, prog: VerdictProg, attach: AttachFn, stats: XdpStatsReader
) -> None:
    """The receiver counted all along: real frames are counted, exactly, and only them."""
    attach(t.receiver, prog.fd, XdpMode.NATIVE)
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    batch = make_batch(flow, SELECTOR["drop"], N)
    tally_before = prog.tally()
    exchange_split(t.sender, flow, batch.markers, {t.receiver: []})
    tally = prog.tally() - tally_before
    assert tally.crafted == XdpCounters.of(drop=batch.totals), f"control tally: {tally}"
    expect_counters(lambda: stats.counters(t.receiver), tally.as_counted(), "real traffic")


@pytest.mark.parametrize("ingress", ["ingress_ifindex", "loopback"])
def test_repeated_runs_count_nothing(
    redirect_topology: RedirectTopology,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    ingress: str,
) -> None:
    t = redirect_topology
    ports = _counting_ports(t, stats)
    prog = verdict_prog()
    ifindex = t.receiver.ifindex if ingress == "ingress_ifindex" else None
    expected = XdpCounters()

    for action in ("aborted", "drop", "pass", "tx", "invalid"):
        frame = _frame(t, SELECTOR[action])
        with inside(t.receiver.ns):
            prog_test_run(prog.fd, frame, repeat=REPEAT, ingress_ifindex=ifindex)
        expected = expected + XdpCounters.of(**{f"{action}_": (REPEAT, REPEAT * len(frame))})

    tally = prog.tally()
    assert tally.crafted == expected, mismatch("the program's tally", expected, tally.crafted)
    _expect_nothing_counted(stats, ports, f"after {REPEAT} test runs per verdict ({ingress})")
    _control_traffic(t, prog, attach, stats)


def test_live_frames_count_nothing_even_failed_redirects(
    redirect_topology: RedirectTopology,
    verdict_prog: Callable[[], VerdictProg],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
    trace: TraceFn,
) -> None:
    """Live frames (BPF_F_TEST_XDP_LIVE_FRAMES) from the receiver: dropped, passed into
    its stack, redirected to no device (redirect errors, traced for the receiver) and
    through a devmap to a target whose peer is down (refused at the flush, traced as
    xdp_devmap_xmit drops): the receiver counts none of it."""
    t = redirect_topology
    prog = verdict_prog()
    prog.set_redirect_ifindex(NO_SUCH_IFINDEX)
    prog.set_slot(0, t.target.ifindex, t.receiver.ns)
    attach_pass(t.target_peer)
    t.target_peer.ns.ipr.link("set", index=t.target_peer.ifindex, state="down")
    ports = _counting_ports(t, stats)
    events = trace("xdp/xdp_redirect_err", "xdp/xdp_devmap_xmit")
    expected = XdpCounters()

    for action, sel in (
        ("drop", SELECTOR["drop"]),
        ("pass", SELECTOR["pass"]),
        ("redirect", SEL_REDIRECT_IFINDEX),
        ("redirect", SELECTOR["redirect"]),
    ):
        frame = _frame(t, sel)
        with inside(t.receiver.ns):
            prog_test_run(
                prog.fd,
                frame,
                repeat=LIVE_REPEAT,
                ingress_ifindex=t.receiver.ifindex,
                flags=BPF_F_TEST_XDP_LIVE_FRAMES,
            )
        expected = expected + XdpCounters.of(
            **{f"{action}_": (LIVE_REPEAT, LIVE_REPEAT * len(frame))}
        )

    tally = prog.tally()
    assert tally.crafted == expected, mismatch("the program's tally", expected, tally.crafted)
    rx = str(t.receiver.ifindex)
    errors = [e for e in events.events("xdp_redirect_err") if e.fields.get("ifindex") == rx]
    refused = sum(
        int(e.fields["drops"])
        for e in events.events("xdp_devmap_xmit")
        if e.fields.get("from_ifindex") == rx
    )
    assert (len(errors), refused) == (LIVE_REPEAT, LIVE_REPEAT), (
        f"the live redirects should have failed: {len(errors)} xdp_redirect_err events and "
        f"{refused} xdp_devmap_xmit drops for ifindex {rx}, expected {LIVE_REPEAT} of each"
    )
    _expect_nothing_counted(stats, ports, "after live test runs")
    _control_traffic(t, prog, attach, stats)


def test_live_frames_passed_into_a_counting_device_meet_its_generic_program(
    redirect_topology: RedirectTopology,
    verdict_prog: Callable[[], VerdictProg],
    pass_prog: Callable[[], BpfObject],
    attach: AttachFn,
    stats: XdpStatsReader,
    trace: TraceFn,
) -> None:
    """A live test run of an XDP_PASS program hands its frames to the stack of the
    ingress device, where the device's own generic XDP program runs on them as on any
    received packet: its verdicts are the device's (counted), and so are the failures
    of its redirects, counted exactly where xdp:xdp_redirect_err reports them for the
    device. The test run's own verdicts count nowhere."""
    t = redirect_topology
    device_prog = verdict_prog()
    device_prog.set_redirect_ifindex(NO_SUCH_IFINDEX)
    attach(t.receiver, device_prog.fd, XdpMode.GENERIC)
    stats.enable(t.receiver)
    errors = trace("xdp/xdp_redirect_err")
    test_prog = pass_prog()
    frame = _frame(t, SEL_REDIRECT_IFINDEX)

    with inside(t.receiver.ns):
        prog_test_run(
            test_prog.prog_fd("xdp_stats_pass"),
            frame,
            repeat=LIVE_REPEAT,
            ingress_ifindex=t.receiver.ifindex,
            flags=BPF_F_TEST_XDP_LIVE_FRAMES,
        )

    ran = read_tally(test_prog).crafted
    assert ran == XdpCounters.of(pass_=(LIVE_REPEAT, LIVE_REPEAT * len(frame))), ran
    redirected = XdpCounters.of(redirect=(LIVE_REPEAT, LIVE_REPEAT * len(frame)))
    tally = device_prog.tally()
    assert tally.crafted == redirected, mismatch(
        "the device's generic program's tally", redirected, tally.crafted
    )
    rx = str(t.receiver.ifindex)
    traced = sum(1 for e in errors.events("xdp_redirect_err") if e.fields.get("ifindex") == rx)
    assert traced == LIVE_REPEAT, f"{traced} xdp_redirect_err events for {t.receiver}"
    expected = tally.as_counted() + XdpCounters(redirect_errors=traced)
    expect_counters(
        lambda: stats.counters(t.receiver),
        expected,
        f"{t.receiver}: its generic program's verdicts on the frames a live test run passed "
        "it, and their redirect errors",
    )
