"""xmit-drops: redirected frames the target's ndo_xdp_xmit() refused at the devmap flush.

Redirects to a device, through a devmap or bpf_redirect(), are queued per
target and handed to the target driver's ndo_xdp_xmit() in bulk when the
receiving device's NAPI poll flushes (kernel/bpf/devmap.c bq_xmit_all()).
What the driver does not take is freed there and counted on the receiving
device; xdp:xdp_devmap_xmit reports the batch (drops = cnt - sent, which
includes what a devmap entry's own program dropped, which xmit-drops does
not).

veth's ndo_xdp_xmit (drivers/net/veth.c veth_xdp_xmit()) refuses, on the
peer of the target:
- every frame with -ENXIO when the peer's NAPI is not running: the peer has
  an XDP program (so the target advertises NDO_XMIT and the redirect is
  queued) but is down;
- a frame longer than the peer's MTU + hard_header_len + VLAN_HLEN, and
  every frame after it in the batch (the devmap enqueue checked the length
  against the target's MTU, not the peer's).

Generic XDP redirects through the stack (dev_queue_xmit), not through the
bulk queues: frames lost there are no xmit drops.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from xdplib import bpfobj
from xdplib.netns import Port, inside
from xdplib.topology import RedirectTopology
from xdplib.tracefs import TraceInstance
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import ZERO, XdpCounters, XdpStatsReader
from xscommon import (
    SEL_REDIRECT_IFINDEX,
    SELECTOR,
    AttachFn,
    AttachPassFn,
    TraceFn,
    VerdictProg,
    expect_counters,
    interleave,
    make_batch,
    map_u64,
    mismatch,
    read_tally,
    u32,
)

N = 8
VETH_MIN_MTU = 68  # ETH_MIN_MTU
VLAN_HLEN = 4
ETH_HLEN = 14
DEVMAP_XMIT = "xdp/xdp_devmap_xmit"
STAGE2_SELECT_RUNS = 3  # progs/xdp_stats_stage2.bpf.c stage2_runs index


@dataclass(frozen=True)
class Flushes:
    """What xdp:xdp_devmap_xmit reported for one receiving device."""

    sent: int
    drops: int
    errors: frozenset[int]


def flushes(trace: TraceInstance, rx: Port) -> Flushes:
    events = [
        e.fields
        for e in trace.events("xdp_devmap_xmit")
        if e.fields.get("from_ifindex") == str(rx.ifindex)
    ]
    return Flushes(
        sent=sum(int(f["sent"]) for f in events),
        drops=sum(int(f["drops"]) for f in events),
        errors=frozenset(int(f["err"]) for f in events),
    )


def _set_down(port: Port) -> None:
    port.ns.ipr.link("set", index=port.ifindex, state="down")


def _set_up(port: Port) -> None:
    port.ns.ipr.link("set", index=port.ifindex, state="up")


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_flush_refused_by_a_peer_that_is_down(
    redirect_topology: RedirectTopology,
    verdict_prog: Callable[[], VerdictProg],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
    trace: TraceFn,
    mode: XdpMode,
) -> None:
    """Frames redirected to target (devmap slot 0 and bpf_redirect()) while its peer,
    which has an XDP program, is down: native, veth_xdp_xmit() refuses the whole batch
    (-ENXIO) and every frame is an xmit drop of the receiver, not a redirect error;
    generic, the frames die in the stack and count nowhere. Once the peer is up again,
    the same redirects arrive and add nothing."""
    t = redirect_topology
    prog = verdict_prog()
    prog.set_slot(0, t.target.ifindex, t.receiver.ns)
    prog.set_redirect_ifindex(t.target.ifindex)
    attach_pass(t.target_peer)
    attach(t.receiver, prog.fd, mode)
    _set_down(t.target_peer)
    stats.enable(t.receiver, t.target, t.target_peer)
    xmit = trace(DEVMAP_XMIT)
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    via_map = make_batch(flow, SELECTOR["redirect"], N)
    via_ifindex = make_batch(flow, SEL_REDIRECT_IFINDEX, N, pad=2)
    sent = interleave([via_map, via_ifindex])

    # No capture on target_peer: a packet socket bound to a device that is down fails.
    got = exchange_split(t.sender, flow, sent, {t.receiver: []})

    assert not any(a.markers for a in got.values()), f"{mode}: frames arrived: {got}"
    redirected = XdpCounters.of(redirect=(2 * N, via_map.nbytes + via_ifindex.nbytes))
    tally = prog.tally()
    assert tally.crafted == redirected, mismatch("the program's tally", redirected, tally.crafted)
    native = mode is XdpMode.NATIVE
    expected = tally.as_counted() + XdpCounters(xmit_drops=2 * N if native else 0)
    expect_counters(lambda: stats.counters(t.receiver), expected, f"{mode}: {t.receiver}")
    for port in (t.target, t.target_peer):
        assert stats.counters(port) == ZERO, f"{mode}: {port} counted {stats.counters(port)}"
    reported = flushes(xmit, t.receiver)
    want = Flushes(0, 2 * N, frozenset({-errno.ENXIO})) if native else Flushes(0, 0, frozenset())
    assert reported == want, f"{mode}: xdp:xdp_devmap_xmit for {t.receiver}: {reported}"

    # Control: with the peer up, the same redirects arrive, and count as redirects only.
    _set_up(t.target_peer)
    again = [
        make_batch(flow, sel, N, pad=4) for sel in (SELECTOR["redirect"], SEL_REDIRECT_IFINDEX)
    ]
    markers = interleave(again)
    got = exchange_split(t.sender, flow, markers, {t.target_peer: markers})
    assert sorted(got[t.target_peer].markers) == sorted(markers), (
        f"{mode}: with {t.target_peer} up every redirect should arrive: "
        f"{got[t.target_peer].describe()}"
    )
    expected = prog.tally().as_counted() + XdpCounters(xmit_drops=2 * N if native else 0)
    expect_counters(lambda: stats.counters(t.receiver), expected, f"{mode}: peer up again")


def test_flush_refuses_frames_longer_than_the_peer_takes(
    redirect_topology: RedirectTopology,
    verdict_prog: Callable[[], VerdictProg],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
    trace: TraceFn,
) -> None:
    """target_peer's MTU at 68: veth_xdp_xmit() takes frames of up to 68 + 14 + 4 bytes
    and refuses longer ones, which the devmap enqueue (target's MTU, 1500) let through.
    Short frames arrive and count as redirects; long ones count as xmit drops too."""
    t = redirect_topology
    prog = verdict_prog()
    prog.set_slot(0, t.target.ifindex, t.receiver.ns)
    peer = attach_pass(t.target_peer)
    t.target_peer.ns.ipr.link("set", index=t.target_peer.ifindex, mtu=VETH_MIN_MTU)
    attach(t.receiver, prog.fd, XdpMode.NATIVE)
    stats.enable(t.receiver)
    xmit = trace(DEVMAP_XMIT)
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    max_len = VETH_MIN_MTU + ETH_HLEN + VLAN_HLEN
    short = make_batch(flow, SELECTOR["redirect"], N)
    long = make_batch(flow, SELECTOR["redirect"], N, pad=max_len - short.frame_len + 8)
    assert short.frame_len <= max_len < long.frame_len, (short.frame_len, long.frame_len)

    got = exchange_split(t.sender, flow, short.markers, {t.target_peer: short.markers})
    assert sorted(got[t.target_peer].markers) == sorted(short.markers), (
        f"frames of {short.frame_len} bytes should reach {t.target_peer}: "
        f"{got[t.target_peer].describe()}"
    )
    assert read_tally(peer).crafted == XdpCounters.of(pass_=short.totals)
    expect_counters(lambda: stats.counters(t.receiver), prog.tally().as_counted(), "short frames")

    got = exchange_split(t.sender, flow, long.markers, {t.target_peer: []})

    assert not got[t.target_peer].markers, f"long frames arrived: {got[t.target_peer].describe()}"
    redirected = XdpCounters.of(redirect=(2 * N, short.nbytes + long.nbytes))
    tally = prog.tally()
    assert tally.crafted == redirected, mismatch("the program's tally", redirected, tally.crafted)
    expected = tally.as_counted() + XdpCounters(xmit_drops=N)
    expect_counters(lambda: stats.counters(t.receiver), expected, f"{t.receiver}")
    reported = flushes(xmit, t.receiver)
    assert (reported.sent, reported.drops) == (N, N), f"xdp:xdp_devmap_xmit: {reported}"


@pytest.mark.parametrize("peer_up", [False, True], ids=["peer-down", "peer-up"])
def test_devmap_program_drops_are_not_xmit_drops(
    redirect_topology: RedirectTopology,
    load_bpf: Callable[..., bpfobj.BpfObject],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
    trace: TraceFn,
    peer_up: bool,
) -> None:
    """A devmap entry whose program drops the 'D' frames and passes the 'P' ones, to a
    target whose peer is down (or up, the control): the entry program's drops are its
    verdicts, not the driver's refusals: xmit-drops counts only the 'P' frames
    veth_xdp_xmit() refused, though xdp:xdp_devmap_xmit reports both as drops."""
    t = redirect_topology
    obj = load_bpf("xdp_stats_stage2")
    # struct bpf_devmap_val { __u32 ifindex; union { int fd; __u32 id; } bpf_prog; }
    value = struct.pack("=Ii", t.target.ifindex, obj.prog_fd("devmap_stage2_select"))
    with inside(t.receiver.ns):
        obj.map_update("dev_stage2", u32(0), value)
    attach_pass(t.target_peer)
    attach(t.receiver, obj.prog_fd("xdp_to_devmap"), XdpMode.NATIVE)
    if not peer_up:
        _set_down(t.target_peer)
    stats.enable(t.receiver, t.target)
    xmit = trace(DEVMAP_XMIT)
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    dropped = make_batch(flow, "D", N)
    passed = make_batch(flow, "P", N, pad=2)

    # No capture on target_peer while it is down: a packet socket bound to it fails.
    expected_at = {t.receiver: [], t.target_peer: passed.markers} if peer_up else {t.receiver: []}
    got = exchange_split(t.sender, flow, interleave([dropped, passed]), expected_at)

    for port, want in expected_at.items():
        assert sorted(got[port].markers) == sorted(want), f"at {port}: {got[port].describe()}"
    tally = read_tally(obj)
    redirected = XdpCounters.of(redirect=(2 * N, dropped.nbytes + passed.nbytes))
    assert tally.crafted == redirected, mismatch("first stage's tally", redirected, tally.crafted)
    expected = tally.as_counted() + XdpCounters(xmit_drops=0 if peer_up else N)
    expect_counters(lambda: stats.counters(t.receiver), expected, f"{t.receiver}")
    assert stats.counters(t.target) == ZERO, f"{t.target}: {stats.counters(t.target)}"
    assert map_u64(obj, "stage2_runs", STAGE2_SELECT_RUNS) == 2 * N
    assert map_u64(obj, "stage2_drops", 0) == N
    reported = flushes(xmit, t.receiver)
    want_sent = N if peer_up else 0
    assert (reported.sent, reported.drops) == (want_sent, 2 * N - want_sent), (
        f"xdp:xdp_devmap_xmit for {t.receiver}: {reported}"
    )
