"""Create and delete netdevsim devices through /sys/bus/netdevsim."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from types import TracebackType

from xdplib.netns import NetNS, Port

NSIM_BUS = Path("/sys/bus/netdevsim")
NSIM_DEBUGFS = Path("/sys/kernel/debug/netdevsim")


class NetdevsimDevice:
    """``echo "ID PORTS" > new_device`` on creation, ``echo ID > del_device`` on close."""

    def __init__(self, dev_id: int, port_count: int = 1) -> None:
        if not (NSIM_BUS / "new_device").exists():
            raise FileNotFoundError(f"{NSIM_BUS}/new_device missing: is CONFIG_NETDEVSIM built in?")
        self.dev_id = dev_id
        self.port_count = port_count
        self.sysfs = NSIM_BUS / "devices" / f"netdevsim{dev_id}"
        if self.sysfs.exists():
            raise FileExistsError(f"{self.sysfs} already exists")
        (NSIM_BUS / "new_device").write_text(f"{dev_id} {port_count}\n")
        self._deleted = False

    def ifindexes(self, timeout: float = 5.0) -> list[int]:
        """Ifindexes of the device's netdevs, from <sysfs>/net/<name>/ifindex.

        udev may rename a netdev between listing net/ and reading its
        ifindex; the listing is retried until it is stable and complete.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self._read_ifindexes()
            if found is not None and len(found) >= self.port_count:
                return found
            if time.monotonic() > deadline:
                return found or []
            time.sleep(0.05)

    def _read_ifindexes(self) -> list[int] | None:
        """None when a netdev was renamed under us (or net/ is not there yet)."""
        try:
            return [
                int((entry / "ifindex").read_text())
                for entry in sorted((self.sysfs / "net").iterdir())
            ]
        except FileNotFoundError:
            return None

    def port_debugfs(self, port: int = 0) -> Path:
        return NSIM_DEBUGFS / f"netdevsim{self.dev_id}" / "ports" / str(port)

    def delete(self) -> None:
        if not self._deleted:
            (NSIM_BUS / "del_device").write_text(f"{self.dev_id}\n")
            self._deleted = True

    @property
    def exists(self) -> bool:
        return self.sysfs.exists()

    def __enter__(self) -> NetdevsimDevice:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.delete()


# Ids per process, so that parallel or leftover test runs do not collide.
_ids = itertools.count(100 + os.getpid() % 1000)


def new_device(port_count: int = 1) -> NetdevsimDevice:
    """A netdevsim device with the next unused id."""
    dev_id = next(_ids)
    while (NSIM_BUS / "devices" / f"netdevsim{dev_id}").exists():
        dev_id = next(_ids)
    return NetdevsimDevice(dev_id, port_count)


def single_port(dev: NetdevsimDevice, ns: NetNS) -> Port:
    """The one netdev of a one-port device, as seen in ``ns``."""
    ifindexes = dev.ifindexes()
    assert len(ifindexes) == 1, (
        f"netdevsim{dev.dev_id} with one port should have one netdev, found ifindexes {ifindexes}"
    )
    (link,) = ns.ipr.link("get", index=ifindexes[0])
    return Port(
        ns=ns,
        ifname=link.get_attr("IFLA_IFNAME"),
        ifindex=ifindexes[0],
        mac=link.get_attr("IFLA_ADDRESS"),
    )
