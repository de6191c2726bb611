"""A bond's XDP program runs on its slaves, and counts there, as the program's verdicts.

drivers/net/bonding installs the bond's native program on every slave; a
slave's XDP_TX is turned into a redirect through the slave the bond chooses
(xdp_master_redirect(), after the verdict was counted). The counters keep
the program's verdict: TX on the receiving slave, not REDIRECT, no redirect
error; the bond device itself counts nothing.

Topology: sender (veth, with an XDP_PASS program so that frames sent back to
it natively are received) --veth-- slave, the only slave of an
active-backup bond in the receiver's namespace, which sends XDP_TX frames
back out of that same slave.
"""

from __future__ import annotations

from collections.abc import Callable

from xdplib.bond import create_bond, enslave
from xdplib.netns import NetNS, Port, create_veth
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import ZERO, XdpCounters, XdpStatsReader
from xscommon import (
    SELECTOR,
    AttachFn,
    AttachPassFn,
    VerdictProg,
    expect_counters,
    interleave,
    make_batch,
    mismatch,
    read_tally,
)

N = 8


def test_bond_slave_xdp_tx_counts_as_tx(
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
) -> None:
    bond_ns = make_netns()
    sender, slave = create_veth(make_netns(), "xs0", bond_ns, "xs1")
    bond = create_bond(bond_ns, "xsbond0")
    enslave(slave, bond)
    bond_ns.set_up(slave.ifname)
    slave = Port.lookup(bond_ns, slave.ifname)  # it took the bond's MAC
    peer_prog = attach_pass(sender)
    prog = verdict_prog()
    attach(bond, prog.fd, XdpMode.NATIVE)
    stats.enable(sender, slave, bond)

    flow = Flow(src_mac=sender.mac, dst_mac=slave.mac)
    tx = make_batch(flow, SELECTOR["tx"], N)
    drop = make_batch(flow, SELECTOR["drop"], N, pad=2)
    got = exchange_split(sender, flow, interleave([tx, drop]), {sender: tx.markers})

    assert sorted(got[sender].markers) == sorted(tx.markers), (
        f"the bond should send the {N} XDP_TX frames back to {sender}: {got[sender].describe()}"
    )
    tally = prog.tally()
    want = XdpCounters.of(tx=tx.totals, drop=drop.totals)
    assert tally.crafted == want, mismatch("the bond's program's tally", want, tally.crafted)
    expect_counters(lambda: stats.counters(slave), tally.as_counted(), f"slave {slave}")
    assert stats.counters(bond) == ZERO, f"{bond}: {stats.counters(bond)}"
    back = read_tally(peer_prog)
    assert back.crafted == XdpCounters.of(pass_=tx.totals), back
    expect_counters(lambda: stats.counters(sender), back.as_counted(), f"{sender}")
