"""Every verdict is counted, packets and bytes, exactly, on the receiving device.

Topology (redirect_topology): sender --veth-- receiver | target --veth-- target_peer.
The verdict program on ``receiver`` (native or generic) drops, passes,
aborts, bounces (XDP_TX), redirects (devmap slot 0 -> target) or returns 7,
as each crafted frame asks. ``sender`` and ``target_peer`` run a native
XDP_PASS program: veth needs one there to receive XDP_TX and redirected
frames in native mode, and it makes them count what comes back, as PASS,
on themselves.

Expected values are what was sent: batches of N frames, each batch its own
length. Stray frames (none are expected: test namespaces have IPv6 off) are
passed by the programs and tallied apart; they are added to the expected
PASS count from the program's tally, so the counts stay exact.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from xdplib import bpfobj
from xdplib.netns import Port
from xdplib.topology import RedirectTopology, VethPair
from xdplib.tracefs import TraceInstance
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import XdpCounters, XdpStatsReader, XdpStatsSysctl
from xscommon import (
    SELECTOR,
    XDP_INVALID_ACTION,
    VerdictProg,
    interleave,
    make_batch,
    mismatch,
    read_tally,
    wait_for_counters,
)

N = 8
each_mode = pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
AttachFn = Callable[[Port, int, XdpMode], int]


@each_mode
def test_every_verdict_counted_exactly(
    counting: XdpStatsSysctl,
    redirect_topology: RedirectTopology,
    verdict_prog: Callable[[], VerdictProg],
    pass_prog: Callable[[], bpfobj.BpfObject],
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    t = redirect_topology
    prog = verdict_prog()
    prog.set_slot(0, t.target.ifindex, t.receiver.ns)
    far_ends = {t.sender: pass_prog(), t.target_peer: pass_prog()}
    for port, obj in far_ends.items():
        attach(port, obj.prog_fd("xdp_stats_pass"), XdpMode.NATIVE)
    attach(t.receiver, prog.fd, mode)

    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    batches = {
        action: make_batch(flow, sel, N, pad=3 * i)
        for i, (action, sel) in enumerate(SELECTOR.items())
    }
    ports = (t.sender, t.receiver, t.target, t.target_peer)
    before = {p: stats.counters(p) for p in ports}
    tally_before = prog.tally()
    far_before = {p: read_tally(obj) for p, obj in far_ends.items()}

    got = exchange_split(
        t.sender,
        flow,
        interleave(list(batches.values())),
        {
            t.receiver: batches["pass"].markers,
            t.sender: batches["tx"].markers,
            t.target_peer: batches["redirect"].markers,
        },
    )

    # Where the frames went: the verdicts were carried out.
    for port, action in ((t.receiver, "pass"), (t.sender, "tx"), (t.target_peer, "redirect")):
        want = batches[action].markers
        assert sorted(got[port].markers) == sorted(want), (
            f"{mode}: the {N} {action} frames (and only them) should reach {port}: "
            f"missing {len(got[port].missing(want))}, {got[port].describe()}"
        )

    # The program returned what the frames asked for.
    crafted = XdpCounters.of(**{f"{a}_": b.totals for a, b in batches.items()})
    tally = prog.tally() - tally_before
    assert tally.crafted == crafted, mismatch(
        f"{mode}: the program's own tally", crafted, tally.crafted
    )

    # The receiver counted exactly that; strays (if any) as PASS.
    expected = tally.as_counted()
    rx = wait_for_counters(lambda: stats.counters(t.receiver) - before[t.receiver], expected)
    assert rx == expected, mismatch(f"{mode}: counters of {t.receiver}", expected, rx)

    # The far ends counted what their own program passed: the bounced and the
    # redirected frames. The target, with no program, counted nothing.
    for port, action in ((t.sender, "tx"), (t.target_peer, "redirect")):
        far = read_tally(far_ends[port]) - far_before[port]
        passed = XdpCounters.of(pass_=batches[action].totals)
        assert far.crafted == passed, mismatch(f"{mode}: tally of {port}", passed, far.crafted)
        want_far = far.as_counted()
        now = wait_for_counters(lambda p=port: stats.counters(p) - before[p], want_far)
        assert now == want_far, mismatch(f"{mode}: counters of {port}", want_far, now)
    target = stats.counters(t.target) - before[t.target]
    assert target == XdpCounters(), mismatch(f"{t.target} (no program)", XdpCounters(), target)


@each_mode
def test_invalid_action_is_counted_and_dropped(
    counting: XdpStatsSysctl,
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    xdp_exception_trace: TraceInstance,
    mode: XdpMode,
) -> None:
    """A return value above XDP_REDIRECT (7) is counted as invalid, not as any action;
    the driver (veth, or the generic path) drops the frame as for XDP_ABORTED and
    reports it through xdp:xdp_exception with the value."""
    s, r = veth_pair.sender, veth_pair.receiver
    prog = verdict_prog()
    attach(r, prog.fd, mode)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    batch = make_batch(flow, SELECTOR["invalid"], N)
    before, tally_before = stats.counters(r), prog.tally()

    got = exchange_split(s, flow, batch.markers, {r: []})

    assert not got[r].markers, (
        f"{mode}: frames the program returned 7 for reached {r}: {got[r].describe()}"
    )
    tally = prog.tally() - tally_before
    invalid = XdpCounters.of(invalid=batch.totals)
    assert tally.crafted == invalid, mismatch(
        f"{mode}: the program's tally", invalid, tally.crafted
    )
    expected = tally.as_counted()
    now = wait_for_counters(lambda: stats.counters(r) - before, expected)
    assert now == expected, mismatch(f"{mode}: counters of {r}", expected, now)
    events = [
        e
        for e in xdp_exception_trace.events("xdp_exception")
        if e.fields.get("ifindex") == str(r.ifindex) and e.fields.get("prog_id") == str(prog.id)
    ]
    assert len(events) == N, (
        f"{mode}: expected {N} xdp:xdp_exception events for prog {prog.id} on {r}, "
        f"got {len(events)}: {[e.line for e in events][:3]}"
    )
    assert {e.fields.get("action") for e in events} == {f"{XDP_INVALID_ACTION:#x}"}, (
        f"xdp_exception should report the value returned: {[e.line for e in events][:3]}"
    )
