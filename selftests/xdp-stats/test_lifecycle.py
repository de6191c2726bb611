"""Counters belong to the device: they outlive programs, follow the device into another
namespace, and go with it.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from functools import partial

import pytest
from xdplib import xdp_attach
from xdplib.netns import NetNS, Port, move_link
from xdplib.refusals import expect_errno
from xdplib.topology import VethPair
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import XdpStatsReader
from xscommon import AttachFn, VerdictProg, expect_counters, make_batch, send_verdicts

N = 8


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_counters_survive_program_replacement_and_detach(
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    stats.enable(r)
    first, second = verdict_prog(), verdict_prog()
    attach(r, first.fd, mode)
    expected = send_verdicts(s, r, first, "drop", N)
    expect_counters(lambda: stats.counters(r), expected, f"{mode}: prog {first.id}")

    attach(r, second.fd, mode)  # replaces the first program
    expected = expected + send_verdicts(s, r, second, "pass", N)
    expect_counters(lambda: stats.counters(r), expected, f"{mode}: replaced by {second.id}")

    xdp_attach.detach(r.ns.ipr, r.ifindex, mode)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    batch = make_batch(flow, "D", N)
    got = exchange_split(s, flow, batch.markers, {r: batch.markers})
    assert sorted(got[r].markers) == sorted(batch.markers), "without a program all arrive"
    expect_counters(lambda: stats.counters(r), expected, f"{mode}: detached, nothing added")


def test_counters_follow_the_device_into_another_namespace(
    veth_pair: VethPair,
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    stats.enable(r)
    prog = verdict_prog()
    attach(r, prog.fd, XdpMode.GENERIC)  # a generic program stays attached across the move
    expected = send_verdicts(s, r, prog, "drop", N)
    expect_counters(lambda: stats.counters(r), expected, f"{r}")

    elsewhere = make_netns()
    move_link(r.ns.ipr, r.ifindex, elsewhere.path)
    moved = Port.lookup(elsewhere, r.ifname)
    elsewhere.set_up(r.ifname)

    assert stats.dump(r.ns) == {}, f"{r.ns.name} still reports {stats.dump(r.ns)}"
    assert stats.counters(moved) == expected, f"{moved}, moved: {stats.counters(moved)}"
    assert stats.dump(elsewhere) == {moved.ifindex: expected}, stats.dump(elsewhere)
    expected = expected + send_verdicts(s, moved, prog, "aborted", N)
    expect_counters(lambda: stats.counters(moved), expected, f"{moved}, counting on")


def test_counters_go_with_the_device(
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    stats.enable(s, r)
    prog = verdict_prog()
    attach(r, prog.fd, XdpMode.NATIVE)
    expected = send_verdicts(s, r, prog, "drop", N)
    expect_counters(lambda: stats.counters(r), expected, f"{r}")

    r.ns.ipr.link("del", index=r.ifindex)  # its peer goes too

    for port in (s, r):
        expect_errno(partial(stats.counters, port), errno.ENODEV, f"get of deleted {port}")
        assert stats.dump(port.ns) == {}, f"{port.ns.name} after the delete"
        expect_errno(partial(stats.dump, port.ns, port.ifindex), errno.ENODEV, f"dump for {port}")
