"""Create and delete netdevsim devices through /sys/bus/netdevsim."""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

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
