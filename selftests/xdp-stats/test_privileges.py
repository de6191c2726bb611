"""Who may switch counting, and who may read it.

xdp-stats-set is GENL_UNS_ADMIN_PERM: CAP_NET_ADMIN in the user namespace
that owns the network namespace of the socket (and of the device, which the
request names in that namespace); the kernel checks the sender's
capability, not only the socket opener's. xdp-stats-get needs nothing.
The requests come from a child process (xdplib.xdp_stats_child) with less
privilege than the test: root without CAP_NET_ADMIN, the user nobody, and
nobody as root of a user namespace of its own that owns a new network
namespace (``unshare -Urn``).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from xdplib import caps
from xdplib.netns import NetNS, Port, create_veth, inside
from xdplib.topology import VethPair
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import ZERO, XdpCounters, XdpStatsReader
from xdplib.xdp_stats_child import Op, Outcome, Privilege, run
from xscommon import AttachFn, VerdictProg, expect_counters, send_verdicts

N = 8

PRIVILEGES = {
    # name: (privilege, may switch)
    "root": (Privilege.root(), True),
    "root-without-CAP_SYS_BOOT": (Privilege.without(caps.CAP_SYS_BOOT), True),
    "root-without-CAP_NET_ADMIN": (Privilege.without(caps.CAP_NET_ADMIN), False),
    "nobody": (Privilege.nobody(), False),
}


def _outcome(got: Outcome, may: bool, what: str) -> None:
    if may:
        assert not got.failed, f"{what}: refused: {got.error}"
    else:
        assert got.errno == errno.EPERM, f"{what}: expected EPERM, got {got}"


@pytest.mark.parametrize("who", PRIVILEGES)
def test_reading_needs_nothing_switching_needs_cap_net_admin(
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    who: str,
) -> None:
    privilege, may_switch = PRIVILEGES[who]
    s, r = veth_pair.sender, veth_pair.receiver
    lo = Port.lookup(r.ns, "lo")
    prog = verdict_prog()
    attach(r, prog.fd, XdpMode.NATIVE)
    stats.enable(r)
    counted = send_verdicts(s, r, prog, "drop", N)
    expect_counters(lambda: stats.counters(r), counted, f"{r}")

    with inside(r.ns):
        whoami, got, dumped, disable, enable = run(
            privilege,
            [
                Op("whoami"),
                Op("get", ifindex=r.ifindex),
                Op("dump"),
                Op("set", ifindex=r.ifindex, enabled=0),
                Op("set", ifindex=lo.ifindex, enabled=1),
            ],
        )

    me = whoami.ok
    if privilege.user is not None:
        assert me == {"uid": privilege.user, "cap_eff": 0}, f"{who}: the child is {me}"
    for cap in privilege.drop_caps:
        assert not me["cap_eff"] & (1 << cap), f"{who}: the child kept capability {cap}: {me}"
    assert got.ok == counted.as_dict(), f"{who}: get of {r}: {got}"
    assert dumped.ok == {str(r.ifindex): counted.as_dict()}, f"{who}: dump: {dumped}"
    _outcome(disable, may_switch, f"{who}: disabling {r}")
    _outcome(enable, may_switch, f"{who}: enabling {lo}")
    if may_switch:
        stats.expect_not_counting(r, f"disabled by {who}")
        assert stats.counters(lo) == ZERO, f"{lo} enabled by {who}: {stats.counters(lo)}"
    else:
        assert stats.counters(r) == counted, f"{r} after {who}'s refused disable"
        stats.expect_not_counting(lo, f"after {who}'s refused enable")


@pytest.fixture
def initial_netns_veth() -> Iterator[tuple[Port, Port]]:
    """A veth pair in the initial network namespace (the test process's), deleted after."""
    host = NetNS.original()
    try:
        pair = create_veth(host, "xsuser0", host, "xsuser1")
        try:
            yield pair
        finally:
            host.ipr.link("del", index=pair[0].ifindex)
    finally:
        host.remove()


def test_user_namespace_owner_switches_its_own_devices_only(
    initial_netns_veth: tuple[Port, Port], stats: XdpStatsReader
) -> None:
    """nobody, then ``unshare -Urn``: root of its user namespace, which owns its new
    network namespace, counts on a veth it creates there; through a socket of the initial
    namespace (opened as root before privileges were dropped) it may read that
    namespace's counters but not switch them: the capability checked is the sender's,
    in the initial user namespace, which owns the device's namespace."""
    assert Path("/proc/self/ns/user").exists(), (
        "this kernel has no user namespaces (CONFIG_USER_NS is not set: add it to the "
        "xdp-stats series' kernel config): an unprivileged user namespace owning a network "
        "namespace cannot be made"
    )
    counting, idle = initial_netns_veth
    stats.enable(counting)
    host = NetNS.original()
    try:
        with inside(host):
            outcomes = run(
                Privilege.userns_of_nobody(),
                [
                    Op("whoami"),
                    Op("veth", names=("xs0", "xs1")),
                    Op("set", ifindex="xs0", enabled=1),
                    Op("get", ifindex="xs0"),
                    Op("dump"),
                    Op("set", ifindex="xs0", enabled=0),
                    Op("get", ifindex="xs0"),
                    Op("set", sock="outer", ifindex=idle.ifindex, enabled=1),
                    Op("set", sock="outer", ifindex=counting.ifindex, enabled=0),
                    Op("get", sock="outer", ifindex=counting.ifindex),
                ],
            )
    finally:
        host.remove()
    whoami, veth, enable, got, dumped, disable, gone, host_enable, host_disable, host_get = outcomes

    assert whoami.ok == {"uid": 0, "cap_eff": whoami.ok["cap_eff"]}, f"child: {whoami}"
    assert whoami.ok["cap_eff"] & (1 << caps.CAP_NET_ADMIN), f"child: {whoami}"
    assert not veth.failed, f"creating a veth in its own namespace: {veth.error}"
    own = veth.ok["xs0"]
    assert not enable.failed, f"enabling counting on its own veth: {enable.error}"
    assert got.ok == ZERO.as_dict(), f"its veth's counters: {got}"
    assert dumped.ok == {str(own): ZERO.as_dict()}, f"its namespace's dump: {dumped}"
    assert not disable.failed, f"disabling counting on its own veth: {disable.error}"
    assert gone.errno == errno.ENODATA, f"after disabling: {gone}"
    assert host_enable.errno == errno.EPERM, f"enabling {idle}: {host_enable}"
    assert host_disable.errno == errno.EPERM, f"disabling {counting}: {host_disable}"
    assert host_get.ok == XdpCounters().as_dict(), f"reading {counting}: {host_get}"
    stats.expect_not_counting(idle, "after the user namespace's refused enable")
    assert stats.counters(counting) == ZERO, f"{counting} after the refused disable"
