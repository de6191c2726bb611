"""net.core.xdp_stats: off means no counting; what enabling allocates; who may write it.

"Never enabled since boot" cannot be recreated once any test of the boot
has enabled counting. A device registered while counting is off is in the
same state: it has no counters until the next enable. That is what the
no-counters tests use, so they do not depend on test order.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from xdplib.caps import CAP_NET_ADMIN, write_without_capability
from xdplib.netns import NetNS, Port, create_veth
from xdplib.topology import VethPair
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import XDP_STATS_SYSCTL, XdpCounters, XdpStatsReader, XdpStatsSysctl
from xscommon import SELECTOR, VerdictProg, make_batch, mismatch, wait_for_counters

N = 8
CAP_SYS_BOOT = 22  # unrelated to the sysctl: the control case
AttachFn = Callable[[Port, int, XdpMode], int]


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_off_stops_counting_and_keeps_the_counts(
    sysctl: XdpStatsSysctl,
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    prog = verdict_prog()
    attach(r, prog.fd, mode)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    sysctl.write(1)
    start = stats.counters(r)

    def send_drops(what: str) -> XdpCounters:
        batch, tally_before = make_batch(flow, SELECTOR["drop"], N), prog.tally()
        exchange_split(s, flow, batch.markers, {r: []})
        tally = prog.tally() - tally_before
        dropped = XdpCounters.of(drop=batch.totals)
        assert tally.crafted == dropped, mismatch(f"{what}: tally", dropped, tally.crafted)
        return tally.as_counted()

    on1 = send_drops("on")
    now = wait_for_counters(lambda: stats.counters(r) - start, on1)
    assert now == on1, mismatch(f"{mode}, counting on", on1, now)

    sysctl.write(0)
    send_drops("off")
    off = stats.get(r)
    assert off.counters is not None, f"{r} lost its counters when counting was turned off"
    assert off.counters - start == on1, mismatch(
        f"{mode}: counting off, the counters should stay as they were", on1, off.counters - start
    )

    sysctl.write(1)
    on2 = send_drops("on again")
    both = on1 + on2
    now = wait_for_counters(lambda: stats.counters(r) - start, both)
    assert now == both, mismatch(f"{mode}: on again, counting from where it was", both, now)


def _ports(ns: NetNS, names: tuple[str, ...]) -> list[Port]:
    return [Port.lookup(ns, n) for n in names]


def test_device_registered_while_off_has_no_counters(
    sysctl: XdpStatsSysctl, make_netns: Callable[[], NetNS], stats: XdpStatsReader
) -> None:
    """Replies carry the ifindex only (counters omitted, not zero) until counting is
    enabled; enabling allocates zeroed counters, which disabling keeps."""
    sysctl.write(1)
    sysctl.write(0)
    ns = make_netns()
    create_veth(ns, "xs0", ns, "xs1")
    ports = _ports(ns, ("lo", "xs0", "xs1"))

    for p in ports:
        st = stats.get(p)
        assert st.ifindex == p.ifindex and st.counters is None, (
            f"{p}, registered while counting is off, should have no counters: {st}"
        )
    dumped = stats.dump(ns)
    assert sorted(dumped) == sorted(p.ifindex for p in ports), f"dump of {ns.name}: {dumped}"
    assert all(st.counters is None for st in dumped.values()), f"dump of {ns.name}: {dumped}"

    sysctl.write(1)
    for p in ports:
        assert stats.get(p).counters == XdpCounters(), f"{p} after enable: {stats.get(p)}"
    sysctl.write(0)
    for p in ports:
        assert stats.get(p).counters == XdpCounters(), f"{p} after disable: {stats.get(p)}"


def test_devices_registered_while_on_have_counters(
    counting: XdpStatsSysctl, make_netns: Callable[[], NetNS], stats: XdpStatsReader
) -> None:
    ns = make_netns()  # its lo registers while counting is on
    create_veth(ns, "xs0", ns, "xs1")
    for p in _ports(ns, ("lo", "xs0", "xs1")):
        assert stats.get(p).counters == XdpCounters(), (
            f"{p}, registered while counting is on, should have zeroed counters: {stats.get(p)}"
        )


def test_writing_needs_cap_net_admin(sysctl: XdpStatsSysctl) -> None:
    for start, value in ((0, "1"), (1, "0")):
        sysctl.write(start)
        out = write_without_capability(CAP_NET_ADMIN, XDP_STATS_SYSCTL, f"{value}\n")
        assert not out.ok and out.errno == errno.EPERM, (
            f"writing {value} to {XDP_STATS_SYSCTL} (at {start}) without CAP_NET_ADMIN: "
            f"expected EPERM, got {out.text}"
        )
        assert sysctl.read() == start, f"the refused write changed the sysctl to {sysctl.read()}"
    # Control: the same child, lacking an unrelated capability, may write.
    sysctl.write(0)
    out = write_without_capability(CAP_SYS_BOOT, XDP_STATS_SYSCTL, "1\n")
    assert out.ok, f"writing without CAP_SYS_BOOT (CAP_NET_ADMIN kept) failed: {out.text}"
    assert sysctl.read() == 1


@pytest.mark.parametrize("value", ["2", "-1", "abc"])
def test_only_0_and_1_are_accepted(sysctl: XdpStatsSysctl, value: str) -> None:
    sysctl.write(0)
    with pytest.raises(OSError) as exc:
        XDP_STATS_SYSCTL.write_text(f"{value}\n")
    assert exc.value.errno == errno.EINVAL, f"writing {value!r}: {exc.value}"
    assert sysctl.read() == 0, f"after the refused {value!r} the sysctl reads {sysctl.read()}"
