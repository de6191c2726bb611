"""Bonding: the bond's enforced attach, and slaves enslaved after it (patch 8).

drivers/net/bonding bond_xdp_set_features(): a bond advertises the XDP
features all its slaves share (xsk-zerocopy never), nothing without slaves;
an enforced attach to the bond is checked against that, like any device's.
The bond installs its program on each slave through dev_xdp_propagate().
When the bond's program was attached with XDP_FLAGS_ENFORCE_FEATURES (the
bond remembers the flag, bond->xdp_flags), a port enslaved later is checked
there: if it lacks what the program, or what it reaches, needs, the enslave
fails with EOPNOTSUPP and the extack "XDP program needs features the device
lacks: <names>" (or the tail call/extension message), and the port stays
out of the bond. Without enforcement the slave's driver decides, as before
the series: enforcement is a property of an attachment, so a bond
attachment made without the flag is not checked, nor does it narrow locks,
even when the same program has an enforced attachment elsewhere.

The slaves are veth ports in the bond's namespace, their peers elsewhere:
one with a peer of as many tx queues as it has rx queues advertises basic
| redirect | rx-sg; one whose peer has 2 tx queues for its 1 rx queue
advertises nothing, and its driver refuses native programs (ENOSPC). No
other device here runs XDP on a bond: netdevsim has no ndo_xdp_xmit, which
a slave of a bond with a program needs ("Slave does not support XDP").
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    FDINFO_PROG_LOCK,
    REDIRECT,
    RX_SG,
    Nsim,
    assert_lock,
    attach_accepted,
    attach_enforced,
    describe,
    enforced_refused,
    errname,
    lacks_message,
)
from pyroute2 import NetlinkError
from xdplib import xdp_attach
from xdplib.bond import BondMode, create_bond, enslave, master_of
from xdplib.bpfobj import BpfObject, prog_id
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import NetNS, Port, create_veth
from xdplib.xdp_attach import XdpMode

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
VETH_FEATURES = BASIC | REDIRECT | RX_SG
VETH_ENOSPC_EXTACK = "veth: XDP expects number of rx queues not less than peer tx queues"
PROGRAM = "xdp_redirect_map"  # needs basic and redirect
NEEDS = BASIC | REDIRECT


@dataclass
class Bond:
    """An active-backup bond with one capable veth slave; more ports on demand."""

    bond: Port
    netdev_info: InfoFn
    peer_ns: NetNS
    names: itertools.count[int]

    def veth(self, starved: bool) -> Port:
        """A new port in the bond's namespace: capable, or advertising nothing."""
        n = next(self.names)
        # starved: 1 rx queue here for the peer's 2 tx queues (the end in the bond's
        # namespace is the peer end, whose queues pyroute2 sets apart from the other's)
        queues = 2 if starved else None
        single = 1 if starved else None
        _, port = create_veth(
            self.peer_ns,
            f"ffp{n}",
            self.bond.ns,
            f"ffs{n}",
            a_num_tx_queues=queues,
            a_num_rx_queues=queues,
            b_num_tx_queues=single,
            b_num_rx_queues=single,
        )
        expected = 0 if starved else VETH_FEATURES
        got = self.netdev_info(port).xdp_features_raw
        assert got == expected, f"{port} should advertise {describe(expected)}, {describe(got)}"
        return port

    def features(self) -> int:
        return self.netdev_info(self.bond).xdp_features_raw

    def state(self) -> xdp_attach.XdpState:
        return xdp_attach.query(self.bond.ns.ipr, self.bond.ifindex)

    def enslaved(self, port: Port) -> None:
        try:
            enslave(port, self.bond)
        except NetlinkError as e:
            raise AssertionError(
                f"enslaving {port} to {self.bond} should work, got {errname(e.code)}: {e.args[1]!r}"
            ) from e
        assert master_of(port) == self.bond.ifindex, f"{port} is not a slave of {self.bond}"

    def enslave_refused(self, port: Port, code: int, extack: str) -> None:
        """Enslaving fails with ``code`` and exactly ``extack``; bond and port are as before."""
        before, features = self.state(), self.features()
        with pytest.raises(NetlinkError) as exc:
            enslave(port, self.bond)
        err = exc.value
        assert (err.code, str(err.args[1])) == (code, extack), (
            f"enslaving {port} to {self.bond}: expected {errname(code)} {extack!r}, got "
            f"{errname(err.code)} {err.args[1]!r}"
        )
        assert master_of(port) == 0, f"{port} was refused, yet has master {master_of(port)}"
        assert self.state() == before, f"{self.bond}'s XDP state changed: {self.state()}"
        assert self.features() == features, (
            f"{self.bond} advertised {describe(features)} before the refused enslave, "
            f"{describe(self.features())} after"
        )


@pytest.fixture
def bond(make_netns: Callable[[], NetNS], netdev_info: InfoFn) -> Bond:
    ns = make_netns()
    b = Bond(
        create_bond(ns, "ffbond", BondMode.ACTIVEBACKUP),
        netdev_info,
        make_netns(),
        itertools.count(),
    )
    assert b.features() == 0, f"{b.bond} without slaves advertises {describe(b.features())}"
    b.enslaved(b.veth(starved=False))
    assert b.features() == VETH_FEATURES, (
        f"{b.bond} with one veth slave should advertise {describe(VETH_FEATURES)}, "
        f"got {describe(b.features())}"
    )
    return b


@pytest.fixture
def program(load_bpf: LoadFn) -> int:
    return load_bpf(PROGRAM).prog_fd(PROGRAM)


def test_bond_advertises_what_all_slaves_share(bond: Bond) -> None:
    bond.enslaved(bond.veth(starved=True))
    assert bond.features() == 0, (
        f"with a slave advertising nothing, {bond.bond} advertises {describe(bond.features())}"
    )


def test_enforced_attach_to_bond_is_checked_against_its_features(bond: Bond, program: int) -> None:
    """With a slave advertising nothing, the bond advertises nothing: refused."""
    bond.enslaved(bond.veth(starved=True))
    enforced_refused(bond.bond, program, errno.EOPNOTSUPP, lacks_message(NEEDS))


def test_enforced_attach_to_bond_accepted_and_locked(bond: Bond, program: int) -> None:
    assert prog_id(program) == attach_enforced(bond.bond, program, PROGRAM)
    assert_lock(program, FDINFO_PROG_LOCK, VETH_FEATURES, f"{PROGRAM} on {bond.bond}")


def test_enslaving_port_lacking_features_refused(bond: Bond, program: int) -> None:
    attach_enforced(bond.bond, program, PROGRAM)
    bond.enslave_refused(bond.veth(starved=True), errno.EOPNOTSUPP, lacks_message(NEEDS))
    assert_lock(program, FDINFO_PROG_LOCK, VETH_FEATURES, f"{PROGRAM} after the refused enslave")


def test_enslaving_capable_port_accepted(bond: Bond, program: int) -> None:
    attach_enforced(bond.bond, program, PROGRAM)
    bond.enslaved(bond.veth(starved=False))
    assert bond.state().drv_prog_id == prog_id(program), f"{bond.bond}: {bond.state()}"
    assert bond.features() == VETH_FEATURES, f"{bond.bond}: {describe(bond.features())}"


def test_without_enforcement_the_slave_driver_decides(bond: Bond, program: int) -> None:
    """As before the series: veth refuses the starved port itself, takes the capable one."""
    attach_accepted(bond.bond, program, XdpMode.NATIVE, what=f"{PROGRAM}, not enforced")
    bond.enslave_refused(bond.veth(starved=True), errno.ENOSPC, VETH_ENOSPC_EXTACK)
    bond.enslaved(bond.veth(starved=False))
    assert_lock(program, FDINFO_PROG_LOCK, None, f"{PROGRAM} on {bond.bond}, not enforced")


def test_bond_without_slaves_refuses_enforced_attach(
    make_netns: Callable[[], NetNS], netdev_info: InfoFn, load_bpf: LoadFn
) -> None:
    """A bond without slaves advertises nothing: an enforced attach is refused (the bond
    would take it without enforcement, having no slave to install it on)."""
    empty = create_bond(make_netns(), "ffbond", BondMode.ACTIVEBACKUP)
    assert netdev_info(empty).xdp_features_raw == 0, f"{empty} advertises features"
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    enforced_refused(empty, fd, errno.EOPNOTSUPP, lacks_message(BASIC))
    attach_accepted(empty, fd, XdpMode.NATIVE, what="xdp_pass, not enforced")


@pytest.fixture
def locked_elsewhere(nsim: Nsim, program: int, netdev_info: InfoFn) -> int:
    """The program, attached with enforcement to the netdevsim port advertising every
    feature: locked to all of them. Returns its fd."""
    nsim.advertise(ALL_FEATURES, netdev_info)
    attach_enforced(nsim.port, program, f"{PROGRAM} on {nsim.port}")
    assert_lock(program, FDINFO_PROG_LOCK, ALL_FEATURES, f"{PROGRAM} on {nsim.port}")
    return program


def test_unenforced_bond_attach_leaves_the_lock_alone(bond: Bond, locked_elsewhere: int) -> None:
    """Enforcement is per attachment: attaching the program to the bond without the flag
    checks nothing, so it cannot narrow the lock the enforced attachment left."""
    attach_accepted(bond.bond, locked_elsewhere, XdpMode.NATIVE, what=f"{PROGRAM}, not enforced")
    assert_lock(
        locked_elsewhere, FDINFO_PROG_LOCK, ALL_FEATURES, f"{PROGRAM} after an unenforced attach"
    )


def test_unenforced_bond_enslave_is_left_to_the_driver(bond: Bond, locked_elsewhere: int) -> None:
    """The bond's attachment was not enforced: enslaving is what it was before the series
    (veth refuses the starved port itself), whatever other attachments the program has."""
    attach_accepted(bond.bond, locked_elsewhere, XdpMode.NATIVE, what=f"{PROGRAM}, not enforced")
    bond.enslave_refused(bond.veth(starved=True), errno.ENOSPC, VETH_ENOSPC_EXTACK)
