"""Find network interfaces by the driver bound to them (sysfs), and borrow the guest's
two looped virtio_net NICs.

The harness starts the guest with virtme-ng's ``--network loop``: two virtio
NICs on one QEMU hub, so what one sends the other receives. ``virtio_loop``
finds them by driver (names depend on udev), moves each into a fresh
namespace (so the kernel cannot short-circuit traffic between them) and
puts them back, without XDP and down, afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import xdp_attach
from .netns import NetNS, Port, move_link
from .xdp_attach import BOTH_MODES

SYS_CLASS_NET = Path("/sys/class/net")
AF_INET = 2


def driver_of(ifname: str, sys_class_net: Path = SYS_CLASS_NET) -> str | None:
    """Name of the driver bound to ``ifname``'s device, None for virtual ones."""
    link = sys_class_net / ifname / "device" / "driver"
    if not link.exists():
        return None
    return link.resolve().name


def interfaces_with_driver(driver: str, sys_class_net: Path = SYS_CLASS_NET) -> list[str]:
    """Interfaces of the current namespace bound to ``driver``, sorted by name."""
    return sorted(
        p.name for p in sys_class_net.iterdir() if driver_of(p.name, sys_class_net) == driver
    )


@dataclass(frozen=True)
class VirtioNic:
    port: Port
    virtio_features: str  # /sys/bus/virtio/devices/virtioN/features: "0"/"1" per bit

    def has_feature(self, bit: int) -> bool:
        return len(self.virtio_features) > bit and self.virtio_features[bit] == "1"


@dataclass(frozen=True)
class VirtioLoop:
    sender: VirtioNic
    receiver: VirtioNic


class NoVirtioLoop(LookupError):
    """The guest does not have the two unconfigured virtio_net NICs of ``--network loop``."""


def _has_ipv4(ns: NetNS, ifname: str) -> bool:
    return bool(ns.ipr.addr("dump", index=ns.ifindex(ifname), family=AF_INET))


@contextmanager
def virtio_loop(make_netns: Callable[[], NetNS]) -> Iterator[VirtioLoop]:
    """The two looped virtio_net NICs, each in a namespace of ``make_netns()``.

    Raises NoVirtioLoop unless there are exactly two virtio_net NICs without an
    IPv4 address (NICs carrying one are in use by something else: never taken)."""
    host = NetNS.original()
    try:
        nics = [n for n in interfaces_with_driver("virtio_net") if not _has_ipv4(host, n)]
        if len(nics) != 2:
            raise NoVirtioLoop(
                "expected exactly two unconfigured virtio_net NICs (start the guest with "
                f"virtme-ng --network loop), found {nics} "
                f"(all virtio_net: {interfaces_with_driver('virtio_net')})"
            )
        features = {
            n: (SYS_CLASS_NET / n / "device" / "features").read_text().strip() for n in nics
        }
        namespaces = [make_netns(), make_netns()]
        moved: list[tuple[NetNS, str]] = []
        try:
            for name, ns in zip(nics, namespaces, strict=True):
                move_link(host.ipr, host.ifindex(name), ns.path)
                moved.append((ns, name))
                ns.set_up(name)
            sender, receiver = (
                VirtioNic(Port.lookup(ns, name), features[name]) for ns, name in moved
            )
            yield VirtioLoop(sender, receiver)
        finally:
            for ns, name in moved:
                idx = ns.ifindex(name)
                for mode in BOTH_MODES:
                    xdp_attach.detach(ns.ipr, idx, mode)
                ns.ipr.link("set", index=idx, state="down")
                move_link(ns.ipr, idx, host.path)
    finally:
        host.remove()
