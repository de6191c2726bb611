"""Second-stage programs of devmap and cpumap entries are not counted.

The receiver's program redirects every crafted frame into a map entry whose
own program (xdp/devmap, xdp/cpumap) drops it. The receiver counts the
first stage's XDP_REDIRECT; the second stage's XDP_DROP shows up nowhere:
not on the receiver (the device such programs run with), not on the
devmap target, not on any device of the namespaces involved. The second
stage's own run counter proves it did run, once per frame.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable

import pytest
from xdplib import bpfobj
from xdplib.netns import NetNS, Port, inside
from xdplib.topology import RedirectTopology
from xdplib.traffic import ARRIVAL_TIMEOUT, Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import XdpCounters, XdpStatsReader, XdpStatsSysctl
from xscommon import SELECTOR, make_batch, mismatch, read_tally, wait_for_counters

N = 8
CPUMAP_QSIZE = 192
NO_SUCH_IFINDEX = 0x7FFF0000
AttachFn = Callable[[Port, int, XdpMode], int]


def _stage2_runs(obj: bpfobj.BpfObject, which: int) -> int:
    raw = obj.map_lookup("stage2_runs", struct.pack("=I", which), 8)
    return int(struct.unpack("=Q", raw)[0])


def _wait_runs(obj: bpfobj.BpfObject, which: int, want: int) -> None:
    """Until stage2_runs[which] reaches ``want`` (cpumap runs its program in a kthread)."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    runs = _stage2_runs(obj, which)
    while runs < want and time.monotonic() < deadline:
        time.sleep(0.1)
        runs = _stage2_runs(obj, which)
    time.sleep(0.2)
    runs = _stage2_runs(obj, which)
    assert runs == want, f"second stage {which} should have run {want} times in all, ran {runs}"


def _all_counters(stats: XdpStatsReader, namespaces: list[NetNS]) -> dict[str, XdpCounters]:
    out = {}
    for ns in namespaces:
        for ifindex, st in stats.dump(ns).items():
            out[f"ifindex {ifindex}@{ns.name}"] = st.require()
    return out


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
@pytest.mark.parametrize("kind", ["devmap", "cpumap"])
def test_second_stage_verdicts_are_not_counted(
    counting: XdpStatsSysctl,
    redirect_topology: RedirectTopology,
    load_bpf: Callable[..., bpfobj.BpfObject],
    attach: AttachFn,
    stats: XdpStatsReader,
    kind: str,
    mode: XdpMode,
) -> None:
    t = redirect_topology
    obj = load_bpf("xdp_stats_stage2")
    which = 0 if kind == "devmap" else 1
    if kind == "devmap":
        # struct bpf_devmap_val { __u32 ifindex; union { int fd; __u32 id; } bpf_prog; }
        value = struct.pack("=Ii", t.target.ifindex, obj.prog_fd("devmap_stage2"))
        with inside(t.receiver.ns):
            obj.map_update("dev_stage2", struct.pack("=I", 0), value)
        # Native redirects need NDO_XMIT on the target veth: a program on its peer.
        peer = load_bpf("xdp_stats_pass")
        attach(t.target_peer, peer.prog_fd("xdp_stats_pass"), XdpMode.NATIVE)
    else:
        cpu = (os.cpu_count() or 1) - 1
        # struct bpf_cpumap_val { __u32 qsize; union { int fd; __u32 id; } bpf_prog; }
        value = struct.pack("=Ii", CPUMAP_QSIZE, obj.prog_fd("cpumap_stage2"))
        obj.map_update("cpu_stage2", struct.pack("=I", cpu), value)
        obj.map_update("config", struct.pack("=I", 0), struct.pack("=I", cpu))
    first = "xdp_to_devmap" if kind == "devmap" else "xdp_to_cpumap"
    attach(t.receiver, obj.prog_fd(first), mode)

    namespaces = list({p.ns.path: p.ns for p in (t.sender, t.receiver, t.target_peer)}.values())
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    batch = make_batch(flow, SELECTOR["redirect"], N)
    before = _all_counters(stats, namespaces)
    tally_before, runs_before = read_tally(obj), _stage2_runs(obj, which)

    got = exchange_split(
        t.sender, flow, batch.markers, {t.receiver: [], t.target_peer: [], t.sender: []}
    )
    for arrivals in got.values():
        assert not arrivals.markers, f"{kind} stage 2 drops every frame: {arrivals.describe()}"

    tally = read_tally(obj) - tally_before
    redirected = XdpCounters.of(redirect=batch.totals)
    assert tally.crafted == redirected, mismatch("first stage's tally", redirected, tally.crafted)
    _wait_runs(obj, which, runs_before + N)

    expected = {k: XdpCounters() for k in before}
    rx_key = f"ifindex {t.receiver.ifindex}@{t.receiver.ns.name}"
    expected[rx_key] = tally.as_counted()
    wait_for_counters(lambda: stats.counters(t.receiver) - before[rx_key], expected[rx_key])
    after = _all_counters(stats, namespaces)
    assert after.keys() == before.keys(), f"devices changed: {before.keys()} -> {after.keys()}"
    wrong = {
        k: (after[k] - before[k]).nonzero() for k in before if after[k] - before[k] != expected[k]
    }
    assert not wrong, (
        f"{kind} ({mode}): only {rx_key} should have counted, and only the {N} redirects "
        f"{expected[rx_key].nonzero()}; deltas that differ: {wrong}"
    )


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_cpumap_second_stage_redirect_failures_count_on_the_receiver(
    counting: XdpStatsSysctl,
    redirect_topology: RedirectTopology,
    load_bpf: Callable[..., bpfobj.BpfObject],
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    """A cpumap program's redirect runs xdp_do_redirect() (generic:
    xdp_do_generic_redirect()) for the original receiving device: when it fails,
    the failure is that device's redirect error, while the packet was counted once,
    as the first stage's REDIRECT; the second stage's own verdict is not counted."""
    t = redirect_topology
    obj = load_bpf("xdp_stats_stage2")
    cpu = (os.cpu_count() or 1) - 1
    value = struct.pack("=Ii", CPUMAP_QSIZE, obj.prog_fd("cpumap_stage2_redirect"))
    obj.map_update("cpu_stage2", struct.pack("=I", cpu), value)
    obj.map_update("config", struct.pack("=I", 0), struct.pack("=I", cpu))
    obj.map_update("config", struct.pack("=I", 1), struct.pack("=I", NO_SUCH_IFINDEX))
    attach(t.receiver, obj.prog_fd("xdp_to_cpumap"), mode)
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    batch = make_batch(flow, SELECTOR["redirect"], N)
    before, tally_before = stats.counters(t.receiver), read_tally(obj)
    runs_before = _stage2_runs(obj, 2)

    got = exchange_split(t.sender, flow, batch.markers, {t.receiver: [], t.target_peer: []})

    assert not any(a.markers for a in got.values()), f"frames arrived: {got}"
    _wait_runs(obj, 2, runs_before + N)
    tally = read_tally(obj) - tally_before
    redirected = XdpCounters.of(redirect=batch.totals)
    assert tally.crafted == redirected, mismatch("first stage's tally", redirected, tally.crafted)
    expected = tally.as_counted() + XdpCounters(redirect_errors=N)
    now = wait_for_counters(lambda: stats.counters(t.receiver) - before, expected)
    assert now == expected, mismatch(f"{mode}: {t.receiver}", expected, now)
