"""Every verdict is counted, packets and bytes, exactly, on the receiving device.

Topology: sender --link-- receiver | target --veth-- target_peer, the link a
veth pair (redirect_topology) or the guest's two looped virtio_net NICs. The
verdict program on ``receiver`` (native or generic) drops, passes, aborts,
bounces (XDP_TX), redirects (devmap slot 0 -> target), returns 7, or trims
16 bytes off the tail and drops, as each crafted frame asks. ``target_peer``
(and, for veth, ``sender``) runs a native XDP_PASS program: veth needs one
there to receive XDP_TX and redirected frames in native mode, and it makes
them count what comes back, as PASS, on themselves.

Expected values are what was sent: batches of N frames, each batch its own
length; the trimmed batch counts its length after the program ran. Stray
frames (none are expected: test namespaces have IPv6 off) are passed by the
programs and tallied apart; they are added to the expected PASS count from
the program's tally, so the counts stay exact.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from xdplib import bpfobj
from xdplib.netns import NetNS, Port, create_veth
from xdplib.nics import VirtioLoop
from xdplib.topology import RedirectTopology, VethPair
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import ZERO, XdpCounters, XdpStatsReader
from xscommon import (
    SEL_TRIM_DROP,
    SELECTOR,
    TRIM_BYTES,
    XDP_INVALID_ACTION,
    AttachFn,
    AttachPassFn,
    TraceFn,
    VerdictProg,
    expect_counters,
    interleave,
    make_batch,
    mismatch,
    read_tally,
)

N = 8
each_mode = pytest.mark.parametrize("mode", BOTH_MODES, ids=str)


def _every_verdict(
    t: RedirectTopology,
    prog: VerdictProg,
    far_ends: dict[Port, bpfobj.BpfObject],
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    """Send every verdict's batch from t.sender to t.receiver (prog attached, counting
    just enabled everywhere); check where the frames went and every counter."""
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    batches = {
        action: make_batch(flow, sel, N, pad=3 * i)
        for i, (action, sel) in enumerate(SELECTOR.items())
    }
    trimmed = make_batch(flow, SEL_TRIM_DROP, N, pad=3 * len(batches))
    counting = [t.receiver, *far_ends]
    for port in counting:
        assert stats.counters(port) == ZERO, f"{port}: counting just enabled, not zero"

    got = exchange_split(
        t.sender,
        flow,
        interleave([*batches.values(), trimmed]),
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

    # The program returned what the frames asked for, the trimmed ones 16 bytes short.
    assert trimmed.frame_len > TRIM_BYTES
    crafted = XdpCounters.of(**{f"{a}_": b.totals for a, b in batches.items()}) + XdpCounters.of(
        drop=(N, N * (trimmed.frame_len - TRIM_BYTES))
    )
    tally = prog.tally()
    assert tally.crafted == crafted, mismatch(
        f"{mode}: the program's own tally", crafted, tally.crafted
    )

    # The receiver counted exactly that; strays (if any) as PASS.
    expect_counters(lambda: stats.counters(t.receiver), tally.as_counted(), f"{mode}: {t.receiver}")

    # The far ends counted what their own program passed: the bounced and the
    # redirected frames.
    for port, obj in far_ends.items():
        action = "tx" if port == t.sender else "redirect"
        far = read_tally(obj)
        passed = XdpCounters.of(pass_=batches[action].totals)
        assert far.crafted == passed, mismatch(f"{mode}: tally of {port}", passed, far.crafted)
        expect_counters(partial(stats.counters, port), far.as_counted(), f"{mode}: {port}")


@each_mode
def test_every_verdict_counted_exactly_on_veth(
    redirect_topology: RedirectTopology,
    verdict_prog: Callable[[], VerdictProg],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    t = redirect_topology
    prog = verdict_prog()
    prog.set_slot(0, t.target.ifindex, t.receiver.ns)
    far_ends = {t.sender: attach_pass(t.sender), t.target_peer: attach_pass(t.target_peer)}
    attach(t.receiver, prog.fd, mode)
    stats.enable(t.sender, t.receiver, t.target, t.target_peer)

    _every_verdict(t, prog, far_ends, stats, mode)

    # The target, with no program, counted nothing.
    assert stats.counters(t.target) == ZERO, f"{t.target} (no program) counted"


@each_mode
def test_every_verdict_counted_exactly_on_virtio_net(
    virtio_loop: VirtioLoop,
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    """The same on the guest's looped virtio_net NICs: XDP_TX goes back over the QEMU
    hub to the sending NIC; redirects go to a veth in the receiver's namespace."""
    sender, receiver = virtio_loop.sender.port, virtio_loop.receiver.port
    target, target_peer = create_veth(receiver.ns, "xsv0", make_netns(), "xsv1")
    t = RedirectTopology(sender, receiver, target, target_peer)
    prog = verdict_prog()
    prog.set_slot(0, target.ifindex, receiver.ns)
    far_ends = {target_peer: attach_pass(target_peer)}
    attach(receiver, prog.fd, mode)
    stats.enable(receiver, target_peer)

    _every_verdict(t, prog, far_ends, stats, mode)


@each_mode
def test_invalid_action_is_counted_and_dropped(
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    trace: TraceFn,
    mode: XdpMode,
) -> None:
    """A return value above XDP_REDIRECT (7) is counted as invalid, not as any action;
    the driver (veth, or the generic path) drops the frame as for XDP_ABORTED and
    reports it through xdp:xdp_exception with the value."""
    s, r = veth_pair.sender, veth_pair.receiver
    prog = verdict_prog()
    attach(r, prog.fd, mode)
    stats.enable(r)
    exceptions = trace("xdp/xdp_exception")
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    batch = make_batch(flow, SELECTOR["invalid"], N)

    got = exchange_split(s, flow, batch.markers, {r: []})

    assert not got[r].markers, (
        f"{mode}: frames the program returned 7 for reached {r}: {got[r].describe()}"
    )
    tally = prog.tally()
    invalid = XdpCounters.of(invalid=batch.totals)
    assert tally.crafted == invalid, mismatch(
        f"{mode}: the program's tally", invalid, tally.crafted
    )
    expect_counters(lambda: stats.counters(r), tally.as_counted(), f"{mode}: {r}")
    events = [
        e
        for e in exceptions.events("xdp_exception")
        if e.fields.get("ifindex") == str(r.ifindex) and e.fields.get("prog_id") == str(prog.id)
    ]
    assert len(events) == N, (
        f"{mode}: expected {N} xdp:xdp_exception events for prog {prog.id} on {r}, "
        f"got {len(events)}: {[e.line for e in events][:3]}"
    )
    assert {e.fields.get("action") for e in events} == {f"{XDP_INVALID_ACTION:#x}"}, (
        f"xdp_exception should report the value returned: {[e.line for e in events][:3]}"
    )
