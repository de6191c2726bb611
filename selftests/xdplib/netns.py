"""Fresh network namespaces, veth pairs, and running code inside a namespace.

A namespace is created in-process (unshare of the calling thread, bind-mounted
under /run/netns so ``ip netns exec`` can look at it while debugging) and the
thread returns to its original namespace at once. ``inside(ns)`` switches the
calling thread into the namespace for the duration of a ``with`` block:
sockets opened there stay bound to that namespace after the block ends, which
is how every netlink, packet and generic-netlink socket of the tests is
opened.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2 import netns as pr_netns

NETNS_RUN_DIR = Path("/run/netns")

_counter = itertools.count()

# The namespace this process started in, held open for the process lifetime
# so it can be re-entered (and devices moved back to it) from anywhere.
_ORIGINAL_NETNS_FD = os.open("/proc/self/ns/net", os.O_RDONLY)
_ORIGINAL_NETNS_PATH = f"/proc/self/fd/{_ORIGINAL_NETNS_FD}"


@contextmanager
def inside(ns: NetNS | str) -> Iterator[None]:
    """Run the body with the calling thread in namespace ``ns``."""
    path = ns.path if isinstance(ns, NetNS) else ns
    fd = os.open(path, os.O_RDONLY)
    pr_netns.pushns()  # saves the current namespace
    try:
        pr_netns.setns(fd)
    except BaseException:
        pr_netns.dropns()  # still where we were: forget the saved entry
        raise
    finally:
        os.close(fd)
    try:
        yield
    finally:
        pr_netns.popns()


class NetNS:
    """A network namespace with its own rtnetlink socket.

    ``NetNS.create(name)`` makes a fresh namespace that ``remove()`` unmounts;
    ``NetNS.original()`` stands for the namespace the test process started in.
    """

    def __init__(self, name: str, path: str, owned: bool) -> None:
        self.name = name
        self.path = path
        self.owned = owned
        self._ipr: IPRoute | None = None
        with inside(self):
            self._ipr = IPRoute(ext_ack=True)

    @classmethod
    def create(cls, name: str) -> NetNS:
        path = str(NETNS_RUN_DIR / name)
        NETNS_RUN_DIR.mkdir(parents=True, exist_ok=True)
        pr_netns.pushns()
        try:
            # fork=False: unshare this thread into a new namespace and
            # bind-mount it at path; popns() puts the thread back.
            pr_netns.setns(path, flags=os.O_CREAT | os.O_EXCL, fork=False)
        finally:
            pr_netns.popns()
        ns = cls(name, path, owned=True)
        ns.quiet_ipv6()
        ns.set_up("lo")
        return ns

    def quiet_ipv6(self) -> None:
        """Turn IPv6 off for every device created in or moved into this namespace.

        A device with IPv6 sends on its own once up (duplicate address detection,
        router solicitations, MLD reports): frames the tests did not send would reach
        their XDP programs and counters. The namespace's ``default`` devconf is what
        new devices copy; ``all`` covers the ones already there (lo).
        """
        with inside(self):
            for scope in ("all", "default"):
                conf = Path(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6")
                if conf.exists():  # a kernel without IPv6 has nothing to quiet
                    conf.write_text("1\n")

    @classmethod
    def original(cls) -> NetNS:
        return cls("original", _ORIGINAL_NETNS_PATH, owned=False)

    @property
    def ipr(self) -> IPRoute:
        if self._ipr is None:
            raise ValueError(f"netns {self.name} is removed")
        return self._ipr

    def ifindex(self, ifname: str) -> int:
        found = self.ipr.link_lookup(ifname=ifname)
        if not found:
            raise LookupError(f"no interface {ifname} in netns {self.name}")
        return int(found[0])

    def link(self, ifname: str) -> Any:
        """The RTM_NEWLINK message (pyroute2 ifinfmsg) describing ``ifname``."""
        (msg,) = self.ipr.link("get", index=self.ifindex(ifname))
        return msg

    def mac(self, ifname: str) -> str:
        return str(self.link(ifname).get("IFLA_ADDRESS"))

    def set_up(self, ifname: str) -> None:
        self.ipr.link("set", index=self.ifindex(ifname), state="up")

    def remove(self) -> None:
        """Close our socket and unmount the namespace.

        The kernel tears the namespace down (and with it every veth inside)
        once the last socket or process referencing it is gone.
        """
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None
        if self.owned and os.path.exists(self.path):
            pr_netns.remove(self.path)

    def __repr__(self) -> str:
        return f"NetNS({self.name!r})"


def new_netns(prefix: str = "xdpst") -> NetNS:
    return NetNS.create(f"{prefix}-{os.getpid()}-{next(_counter)}")


@dataclass(frozen=True)
class Port:
    """One network interface in one namespace."""

    ns: NetNS
    ifname: str
    ifindex: int
    mac: str

    @classmethod
    def lookup(cls, ns: NetNS, ifname: str) -> Port:
        return cls(ns=ns, ifname=ifname, ifindex=ns.ifindex(ifname), mac=ns.mac(ifname))

    def __str__(self) -> str:
        return f"{self.ifname}@{self.ns.name}"


def create_veth(
    a_ns: NetNS,
    a_name: str,
    b_ns: NetNS,
    b_name: str,
    *,
    up: bool = True,
    a_num_rx_queues: int | None = None,
    a_num_tx_queues: int | None = None,
    b_num_rx_queues: int | None = None,
    b_num_tx_queues: int | None = None,
) -> tuple[Port, Port]:
    """Create veth ``a_name`` in ``a_ns`` whose peer is ``b_name`` in ``b_ns``."""
    peer: dict[str, object] = {"ifname": b_name}
    b_fd = os.open(b_ns.path, os.O_RDONLY)
    try:
        peer["net_ns_fd"] = b_fd
        if b_num_rx_queues is not None:
            peer["num_rx_queues"] = b_num_rx_queues
        if b_num_tx_queues is not None:
            peer["num_tx_queues"] = b_num_tx_queues
        kwargs: dict[str, object] = {}
        if a_num_rx_queues is not None:
            kwargs["num_rx_queues"] = a_num_rx_queues
        if a_num_tx_queues is not None:
            kwargs["num_tx_queues"] = a_num_tx_queues
        # Created from inside a_ns so the first end lands there; the peer is
        # placed by IFLA_NET_NS_FD inside VETH_INFO_PEER.
        a_ns.ipr.link("add", ifname=a_name, kind="veth", peer=peer, **kwargs)
    finally:
        os.close(b_fd)
    if up:
        a_ns.set_up(a_name)
        b_ns.set_up(b_name)
    return Port.lookup(a_ns, a_name), Port.lookup(b_ns, b_name)


def move_link(ipr: IPRoute, ifindex: int, target_ns_path: str) -> None:
    """Move an interface (seen by ``ipr``'s namespace) into another namespace."""
    fd = os.open(target_ns_path, os.O_RDONLY)
    try:
        ipr.link("set", index=ifindex, net_ns_fd=fd)
    finally:
        os.close(fd)
