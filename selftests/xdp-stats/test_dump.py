"""The request side of xdp-stats-get: a dump reports the counting devices of the
socket's namespace, each once, or only the one an ifindex filter names; a do names one
device, which must exist and count.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from xdplib.netns import NetNS, Port, create_veth
from xdplib.refusals import expect_errno
from xdplib.topology import VethPair
from xdplib.xdp_stats import (
    IFINDEX_NLA,
    NETDEV_CMD_XDP_STATS_GET,
    NOT_ENABLED,
    ZERO,
    XdpStatsReader,
)
from xscommon import foreign_port

MANY_PAIRS = 100  # 200 counting devices: a dump of several messages


def test_dump_reports_only_counting_devices(
    make_netns: Callable[[], NetNS], stats: XdpStatsReader
) -> None:
    ns, other = make_netns(), make_netns()
    a, b = create_veth(ns, "xs0", ns, "xs1")
    c, d = create_veth(ns, "xs2", other, "xs3")
    assert stats.dump(ns) == {} and stats.dump(other) == {}, "nothing counts yet"

    stats.enable(a, c)
    assert stats.dump(ns) == {a.ifindex: ZERO, c.ifindex: ZERO}, stats.dump(ns)
    assert stats.dump(other) == {}, f"{other.name}: {stats.dump(other)}"

    stats.enable(d)
    stats.disable(a)
    assert stats.dump(ns) == {c.ifindex: ZERO}, stats.dump(ns)
    assert stats.dump(other) == {d.ifindex: ZERO}, stats.dump(other)
    for port in (a, b, Port.lookup(ns, "lo"), Port.lookup(other, "lo")):
        stats.expect_not_counting(port)


def test_dump_ifindex_filter(
    veth_pair: VethPair, make_netns: Callable[[], NetNS], stats: XdpStatsReader
) -> None:
    """A filter on a counting device reports it alone; on a device that does not count,
    nothing (and no error); on an ifindex the namespace lacks, ENODEV."""
    r = veth_pair.receiver
    lo = Port.lookup(r.ns, "lo")
    stats.enable(r, lo)
    assert stats.dump(r.ns) == {lo.ifindex: ZERO, r.ifindex: ZERO}
    assert stats.dump(r.ns, r.ifindex) == {r.ifindex: ZERO}
    assert stats.dump(r.ns, lo.ifindex) == {lo.ifindex: ZERO}
    stats.disable(lo)
    assert stats.dump(r.ns, lo.ifindex) == {}, "a filter on a device that does not count"
    expect_errno(lambda: stats.dump(r.ns, 424242), errno.ENODEV, "dump for a missing ifindex")
    # A counting device of another namespace is not reachable through this socket.
    far = foreign_port(make_netns, r.ns)
    stats.enable(far)
    expect_errno(
        lambda: stats.dump(r.ns, far.ifindex), errno.ENODEV, f"dump filtered on {far}'s ifindex"
    )
    assert stats.dump(far.ns, far.ifindex) == {far.ifindex: ZERO}


def test_do_errors(veth_pair: VethPair, stats: XdpStatsReader) -> None:
    r = veth_pair.receiver
    sock = stats.sock(r.ns)
    expect_errno(lambda: sock.get(r.ifindex), errno.ENODATA, "do, not counting", NOT_ENABLED)
    expect_errno(lambda: sock.get(424242), errno.ENODEV, "do for a missing ifindex")
    expect_errno(
        lambda: sock.request(NETDEV_CMD_XDP_STATS_GET, []), errno.EINVAL, "do without ifindex"
    )
    expect_errno(
        lambda: sock.request(NETDEV_CMD_XDP_STATS_GET, [(IFINDEX_NLA, 0)]),
        errno.ERANGE,
        "do for ifindex 0",
        "integer out of range",
    )
    stats.enable(r)
    assert sock.get(r.ifindex) == ZERO


def test_dump_of_many_devices_lists_each_once(
    make_netns: Callable[[], NetNS], stats: XdpStatsReader
) -> None:
    """Enough counting devices that the dump takes several messages: each is reported
    exactly once (the dump resumes after the last one sent)."""
    ns = make_netns()
    ports: list[Port] = []
    for i in range(MANY_PAIRS):
        ports.extend(create_veth(ns, f"xm{i}a", ns, f"xm{i}b", up=False))
    stats.enable(*ports)
    dumped = stats.dump(ns)  # raises on a device reported twice
    assert sorted(dumped) == sorted(p.ifindex for p in ports), (
        f"{len(dumped)} devices dumped, {len(ports)} count: missing "
        f"{sorted({p.ifindex for p in ports} - set(dumped))[:10]}, extra "
        f"{sorted(set(dumped) - {p.ifindex for p in ports})[:10]}"
    )
    assert all(c == ZERO for c in dumped.values())
