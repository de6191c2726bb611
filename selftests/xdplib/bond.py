"""Bonding devices over rtnetlink: create a bond, enslave and release ports.

drivers/net/bonding (6.12): native XDP on a bond is allowed in the
round-robin and active-backup modes, and in 802.3ad and balance-xor unless
the xmit hash policy is vlan+srcmac (bond_xdp_check()). The bond installs
its program on every slave (dev_xdp_propagate()), and a port is refused
("Device can not be enslaved while up") unless it is down: ``enslave()``
takes it down first. The bond's xdp_features are those common to its
slaves (bond_xdp_set_features()), none without slaves.
"""

from __future__ import annotations

import enum

from .netns import NetNS, Port


class BondMode(enum.IntEnum):
    """IFLA_BOND_MODE values (include/uapi/linux/if_bonding.h)."""

    ROUNDROBIN = 0
    ACTIVEBACKUP = 1
    XOR = 2


def create_bond(ns: NetNS, name: str, mode: BondMode = BondMode.ACTIVEBACKUP) -> Port:
    """A bond without slaves in ``ns``, up."""
    ns.ipr.link("add", ifname=name, kind="bond", bond_mode=int(mode))
    ns.set_up(name)
    return Port.lookup(ns, name)


def enslave(port: Port, bond: Port) -> None:
    """Make ``port`` (down first) a slave of ``bond``; both in the same namespace.

    A refusal raises pyroute2's NetlinkError with the kernel's errno and extack.
    """
    if port.ns is not bond.ns:
        raise ValueError(f"{port} and {bond} are in different namespaces")
    port.ns.ipr.link("set", index=port.ifindex, state="down")
    port.ns.ipr.link("set", index=port.ifindex, master=bond.ifindex)


def master_of(port: Port) -> int:
    """The ifindex of the port's master device (IFLA_MASTER), 0 for none."""
    (link,) = port.ns.ipr.link("get", index=port.ifindex)
    return int(link.get_attr("IFLA_MASTER") or 0)
