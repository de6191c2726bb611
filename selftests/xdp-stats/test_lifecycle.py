"""Counters belong to the device: they outlive programs, and go with the device.

Also the request side of xdp-stats-get: a dump lists exactly the devices of
the namespace; a do names one device, which must exist.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from pyroute2 import NetlinkError
from xdplib import xdp_attach
from xdplib.netns import NetNS, Port, create_veth
from xdplib.topology import VethPair
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import XdpCounters, XdpStatsReader, XdpStatsSysctl
from xscommon import SELECTOR, VerdictProg, make_batch, mismatch, wait_for_counters

N = 8
AttachFn = Callable[[Port, int, XdpMode], int]


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_counters_survive_program_replacement_and_detach(
    counting: XdpStatsSysctl,
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    start = stats.counters(r)
    expected = XdpCounters()

    first, second = verdict_prog(), verdict_prog()
    for prog, action in ((first, "drop"), (second, "pass")):
        attach(r, prog.fd, mode)  # the second attach replaces the first program
        batch, tally_before = make_batch(flow, SELECTOR[action], N), prog.tally()
        exchange_split(s, flow, batch.markers, {r: batch.markers if action == "pass" else []})
        expected = expected + (prog.tally() - tally_before).as_counted()
        now = wait_for_counters(lambda: stats.counters(r) - start, expected)
        assert now == expected, mismatch(f"{mode}: after {action} by prog {prog.id}", expected, now)

    xdp_attach.detach(r.ns.ipr, r.ifindex, mode)
    batch = make_batch(flow, SELECTOR["drop"], N)
    got = exchange_split(s, flow, batch.markers, {r: batch.markers})
    assert not got[r].missing(batch.markers), "without a program every frame should arrive"
    now = stats.counters(r) - start
    assert now == expected, mismatch(f"{mode}: detached, nothing more to count", expected, now)


def test_counters_go_with_the_device(
    counting: XdpStatsSysctl,
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
) -> None:
    ns = make_netns()
    s, r = create_veth(ns, "xs0", ns, "xs1")
    prog = verdict_prog()
    attach(r, prog.fd, XdpMode.NATIVE)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    batch = make_batch(flow, SELECTOR["drop"], N)
    exchange_split(s, flow, batch.markers, {r: []})
    want = XdpCounters.of(drop=batch.totals)
    assert wait_for_counters(lambda: stats.counters(r), want).drop_packets == N

    ns.ipr.link("del", index=r.ifindex)  # its peer goes too

    dumped = stats.dump(ns)
    assert sorted(dumped) == [ns.ifindex("lo")], f"after deleting the veth pair: {dumped}"
    for port in (s, r):
        with pytest.raises(NetlinkError) as exc:
            stats.get(port)
        assert exc.value.code == errno.ENODEV, f"do for deleted {port}: {exc.value}"


def test_dump_lists_every_device_of_the_namespace_once(
    counting: XdpStatsSysctl, make_netns: Callable[[], NetNS], stats: XdpStatsReader
) -> None:
    ns, other = make_netns(), make_netns()
    create_veth(ns, "xs0", ns, "xs1")
    create_veth(ns, "xs2", other, "xs3")
    want = sorted(ns.ifindex(n) for n in ("lo", "xs0", "xs1", "xs2"))
    dumped = stats.dump(ns)
    assert sorted(dumped) == want, f"dump of {ns.name}: {sorted(dumped)}, devices there: {want}"
    for ifindex, st in dumped.items():
        assert st.counters == XdpCounters(), f"ifindex {ifindex}: {st}"


def test_do_needs_an_existing_ifindex(
    counting: XdpStatsSysctl, make_netns: Callable[[], NetNS], stats: XdpStatsReader
) -> None:
    ns = make_netns()
    sock = stats.sock(ns)
    with pytest.raises(NetlinkError) as exc:
        sock.get(424242)
    assert exc.value.code == errno.ENODEV, f"do for a missing ifindex: {exc.value}"
    with pytest.raises(NetlinkError) as exc:
        sock.do_raw(None)
    assert exc.value.code == errno.EINVAL, f"do without an ifindex: {exc.value}"
