"""Find network interfaces by the driver bound to them (sysfs)."""

from __future__ import annotations

from pathlib import Path

SYS_CLASS_NET = Path("/sys/class/net")


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
