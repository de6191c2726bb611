"""xdp-stats-set, the per-device switch: what enabling and disabling do, for one
device only, and which requests it refuses.

Enabling allocates zeroed counters; enabling a device that counts keeps its
counts; disabling frees them (a get is then ENODATA, a dump leaves the
device out) and enabling again starts from zero; disabling a device that
does not count is a no-op. Only the device named counts: not its peer, not
a device of another namespace with the same ifindex. There is no global
switch (v1's net.core.xdp_stats sysctl is gone).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest
from xdplib.netns import NetNS, Port, create_veth
from xdplib.refusals import expect_errno
from xdplib.topology import VethPair
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import (
    ENABLED_NLA,
    IFINDEX_NLA,
    NETDEV_CMD_XDP_STATS_SET,
    ZERO,
    XdpStatsReader,
)
from xscommon import (
    AttachFn,
    VerdictProg,
    expect_counters,
    foreign_port,
    make_batch,
    send_verdicts,
)

N = 8
RANGE = "integer out of range"  # lib/nlattr.c, a policy's min/max
V1_SYSCTL = Path("/proc/sys/net/core/xdp_stats")


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_enable_disable_enable(
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    prog = verdict_prog()
    attach(r, prog.fd, mode)

    # Not counting: the program runs, nothing is counted, nothing is there to read.
    send_verdicts(s, r, prog, "drop", N)
    stats.expect_not_counting(r, f"{mode}, never enabled")

    stats.enable(r)
    assert stats.counters(r) == ZERO, f"{mode}: {r} just enabled: {stats.counters(r)}"
    first = send_verdicts(s, r, prog, "drop", N)
    expect_counters(lambda: stats.counters(r), first, f"{mode}: enabled")

    stats.enable(r)  # again: keeps the counts
    assert stats.counters(r) == first, f"{mode}: enabling twice reset {r}: {stats.counters(r)}"
    both = first + send_verdicts(s, r, prog, "pass", N)
    expect_counters(lambda: stats.counters(r), both, f"{mode}: enabled twice")

    stats.disable(r)  # frees the counters
    stats.expect_not_counting(r, f"{mode}, disabled")
    send_verdicts(s, r, prog, "drop", N)
    stats.expect_not_counting(r, f"{mode}, disabled, after traffic")

    stats.enable(r)  # from zero again
    assert stats.counters(r) == ZERO, f"{mode}: re-enabled {r} kept counts: {stats.counters(r)}"
    again = send_verdicts(s, r, prog, "aborted", N)
    expect_counters(lambda: stats.counters(r), again, f"{mode}: re-enabled")


def test_disabling_a_device_that_does_not_count_is_a_no_op(
    veth_pair: VethPair, stats: XdpStatsReader
) -> None:
    r = veth_pair.receiver
    stats.disable(r)
    stats.expect_not_counting(r, "disabled twice")


def test_a_device_without_a_program_counts_nothing(
    veth_pair: VethPair, stats: XdpStatsReader
) -> None:
    """Counting needs no program; the frames no program saw count nowhere."""
    s, r = veth_pair.sender, veth_pair.receiver
    stats.enable(r)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    markers = make_batch(flow, "P", N).markers
    got = exchange_split(s, flow, markers, {r: markers})
    assert sorted(got[r].markers) == sorted(markers), got[r].describe()
    expect_counters(lambda: stats.counters(r), ZERO, f"{r} without a program")


def test_only_the_named_device_counts(
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
) -> None:
    """Two veth pairs, each across two fresh namespaces: the devices of the two
    receiving namespaces have the same ifindex. Enabling one receiver leaves its peer,
    the other receiver (same ifindex, other namespace) and the loopbacks uncounted."""
    rx_a, rx_b = make_netns(), make_netns()
    s_a, r_a = create_veth(make_netns(), "xs0", rx_a, "xs1")
    s_b, r_b = create_veth(make_netns(), "xs0", rx_b, "xs1")
    assert r_a.ifindex == r_b.ifindex, f"{r_a} and {r_b} should share an ifindex"
    progs = {r_a: verdict_prog(), r_b: verdict_prog()}
    for port, prog in progs.items():
        attach(port, prog.fd, XdpMode.NATIVE)

    stats.enable(r_a)

    sent = send_verdicts(s_a, r_a, progs[r_a], "drop", N)
    send_verdicts(s_b, r_b, progs[r_b], "drop", N)
    expect_counters(lambda: stats.counters(r_a), sent, f"{r_a}")
    for port in (r_b, s_a, Port.lookup(rx_a, "lo"), Port.lookup(rx_b, "lo")):
        stats.expect_not_counting(port, "not enabled")
    assert sorted(stats.dump(rx_a)) == [r_a.ifindex] and stats.dump(rx_b) == {}


def test_set_refuses_bad_requests(
    make_netns: Callable[[], NetNS], veth_pair: VethPair, stats: XdpStatsReader
) -> None:
    """ifindex and enabled are both needed; enabled is 0 or 1 and ifindex at least 1
    (the policy: ERANGE), and a device of the socket's namespace. A refused request
    changes nothing."""
    r = veth_pair.receiver
    sock = stats.sock(r.ns)
    far = foreign_port(make_netns, r.ns)

    def set_raw(*attrs: tuple[str, int]) -> Callable[[], object]:
        return lambda: sock.request(NETDEV_CMD_XDP_STATS_SET, list(attrs))

    cases: dict[str, tuple[Callable[[], object], int, str | None]] = {
        "without enabled": (set_raw((IFINDEX_NLA, r.ifindex)), errno.EINVAL, None),
        "without ifindex": (set_raw((ENABLED_NLA, 1)), errno.EINVAL, None),
        "enabled 2": (set_raw((IFINDEX_NLA, r.ifindex), (ENABLED_NLA, 2)), errno.ERANGE, RANGE),
        "ifindex 0": (set_raw((IFINDEX_NLA, 0), (ENABLED_NLA, 1)), errno.ERANGE, RANGE),
        "no such ifindex": (lambda: sock.set(424242, 1), errno.ENODEV, None),
        f"{far}'s ifindex": (lambda: sock.set(far.ifindex, 1), errno.ENODEV, None),
    }
    for what, (call, code, extack) in cases.items():
        expect_errno(call, code, f"xdp-stats-set {what}", extack)
        stats.expect_not_counting(r, f"after xdp-stats-set {what}")
    stats.expect_not_counting(far, "enabled through another namespace's socket")


def test_no_sysctl() -> None:
    assert not V1_SYSCTL.exists(), f"{V1_SYSCTL} is v1's global switch; v2 has none"
