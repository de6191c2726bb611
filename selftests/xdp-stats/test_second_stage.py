"""Second-stage programs of devmap and cpumap entries are not counted.

The receiver's program redirects every crafted frame into a map entry whose
own program (xdp/devmap, xdp/cpumap) drops it. The receiver counts the
first stage's XDP_REDIRECT; the second stage's XDP_DROP shows up nowhere:
not on the receiver (the device such programs run with), not on the
devmap target, not on any device of the namespaces involved, all of which
count; and a devmap program's drop is no xmit drop. The second stage's own
run counter proves it did run, once per frame.

A cpumap program's failed redirect is different: the core reports it
(xdp:xdp_redirect_err) on the device that received the frame, and
redirect-errors counts it there.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

import pytest
from xdplib import bpfobj
from xdplib.netns import NetNS, Port, inside
from xdplib.poll import settle, wait_until
from xdplib.topology import RedirectTopology
from xdplib.traffic import ARRIVAL_TIMEOUT, Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import XdpCounters, XdpStatsReader
from xscommon import (
    NO_SUCH_IFINDEX,
    SELECTOR,
    AttachFn,
    AttachPassFn,
    expect_counters,
    expect_port_counters,
    make_batch,
    map_u64,
    mismatch,
    read_tally,
    u32,
)

N = 8
CPUMAP_QSIZE = 192
DEVMAP_RUNS, CPUMAP_RUNS, CPUMAP_REDIRECT_RUNS = 0, 1, 2  # stage2_runs indexes


def _expect_runs(obj: bpfobj.BpfObject, which: int, want: int) -> None:
    """stage2_runs[which] reaches ``want`` (cpumap runs its program in a kthread) and
    stays there."""

    def read() -> int:
        return map_u64(obj, "stage2_runs", which)

    wait_until(read, lambda runs: runs >= want, ARRIVAL_TIMEOUT)
    runs = settle(read, what=f"stage2_runs[{which}]")
    assert runs == want, f"second stage {which} should have run {want} times, ran {runs}"


def _ports(ns: NetNS) -> list[Port]:
    return [Port.lookup(ns, link.get_attr("IFLA_IFNAME")) for link in ns.ipr.get_links()]


def _count_everywhere(stats: XdpStatsReader, namespaces: list[NetNS]) -> list[Port]:
    ports = [p for ns in namespaces for p in _ports(ns)]
    stats.enable(*ports)
    return ports


def _cpumap_entry(obj: bpfobj.BpfObject, prog: str) -> None:
    """cpu_stage2[last CPU] runs ``prog``; the first stage redirects there."""
    cpu = (os.cpu_count() or 1) - 1
    # struct bpf_cpumap_val { __u32 qsize; union { int fd; __u32 id; } bpf_prog; }
    value = struct.pack("=Ii", CPUMAP_QSIZE, obj.prog_fd(prog))
    obj.map_update("cpu_stage2", u32(cpu), value)
    obj.map_update("config", u32(0), u32(cpu))


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
@pytest.mark.parametrize("kind", ["devmap", "cpumap"])
def test_second_stage_verdicts_are_not_counted(
    redirect_topology: RedirectTopology,
    load_bpf: Callable[..., bpfobj.BpfObject],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
    kind: str,
    mode: XdpMode,
) -> None:
    t = redirect_topology
    obj = load_bpf("xdp_stats_stage2")
    if kind == "devmap":
        which = DEVMAP_RUNS
        # struct bpf_devmap_val { __u32 ifindex; union { int fd; __u32 id; } bpf_prog; }
        value = struct.pack("=Ii", t.target.ifindex, obj.prog_fd("devmap_stage2"))
        with inside(t.receiver.ns):
            obj.map_update("dev_stage2", u32(0), value)
        # Native redirects need NDO_XMIT on the target veth: a program on its peer.
        attach_pass(t.target_peer)
    else:
        which = CPUMAP_RUNS
        _cpumap_entry(obj, "cpumap_stage2")
    attach(t.receiver, obj.prog_fd(f"xdp_to_{kind}"), mode)
    ports = _count_everywhere(stats, [t.sender.ns, t.receiver.ns, t.target_peer.ns])
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    batch = make_batch(flow, SELECTOR["redirect"], N)

    got = exchange_split(
        t.sender, flow, batch.markers, {t.receiver: [], t.target_peer: [], t.sender: []}
    )

    for arrivals in got.values():
        assert not arrivals.markers, f"{kind} stage 2 drops every frame: {arrivals.describe()}"
    tally = read_tally(obj)
    redirected = XdpCounters.of(redirect=batch.totals)
    assert tally.crafted == redirected, mismatch("first stage's tally", redirected, tally.crafted)
    _expect_runs(obj, which, N)
    expect_port_counters(
        stats.counters,
        {p: tally.as_counted() if p == t.receiver else XdpCounters() for p in ports},
        f"{kind} ({mode})",
    )
    # Every device of the three namespaces counts, and only those.
    for ns in {p.ns.path: p.ns for p in ports}.values():
        dumped = sorted(stats.dump(ns))
        assert dumped == sorted(p.ifindex for p in ports if p.ns is ns), f"{ns.name}: {dumped}"


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_cpumap_second_stage_redirect_failures_count_on_the_receiver(
    redirect_topology: RedirectTopology,
    load_bpf: Callable[..., bpfobj.BpfObject],
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    """A cpumap program's redirect runs xdp_do_redirect() (generic:
    xdp_do_generic_redirect()) for the original receiving device: when it fails,
    the failure is that device's redirect error, while the packet was counted once,
    as the first stage's REDIRECT; the second stage's own verdict is not counted.

    Every frame must meet the second stage, which redirects it nowhere: none may
    reach a stack. On 6.12 the generic (skb) path of the cpumap kthread,
    cpu_map_bpf_prog_run_skb(), returns after the first skb it redirects or drops,
    and the other skbs of that kthread batch (up to 8) go up the stack of the
    receiver without meeting the program (upstream replaced the `return`s by
    `break`s in 6.15, "bpf: cpumap: reuse skb array instead of a linked list to
    chain skbs"): the generic case fails whenever the kthread finds more than one
    frame queued, as on a slow (KASAN) kernel."""
    t = redirect_topology
    obj = load_bpf("xdp_stats_stage2")
    _cpumap_entry(obj, "cpumap_stage2_redirect")
    obj.map_update("config", u32(1), u32(NO_SUCH_IFINDEX))
    attach(t.receiver, obj.prog_fd("xdp_to_cpumap"), mode)
    stats.enable(t.receiver)
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    batch = make_batch(flow, SELECTOR["redirect"], N)

    got = exchange_split(t.sender, flow, batch.markers, {t.receiver: [], t.target_peer: []})

    runs = map_u64(obj, "stage2_runs", CPUMAP_REDIRECT_RUNS)
    arrived = {str(p): a.describe() for p, a in got.items() if a.markers}
    assert not arrived, (
        f"{mode}: frames the cpumap program should have redirected nowhere reached a "
        f"stack: {arrived}; the program ran {runs} times for {N} frames"
    )
    _expect_runs(obj, CPUMAP_REDIRECT_RUNS, N)
    tally = read_tally(obj)
    redirected = XdpCounters.of(redirect=batch.totals)
    assert tally.crafted == redirected, mismatch("first stage's tally", redirected, tally.crafted)
    expected = tally.as_counted() + XdpCounters(redirect_errors=N)
    expect_counters(lambda: stats.counters(t.receiver), expected, f"{mode}: {t.receiver}")
