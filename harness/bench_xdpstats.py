"""The patched kernel's XDP statistics switch, for harness.bench_guest (in the guest).

Two generations of the xdp-stats series switch counting differently:

- v1: the sysctl ``net.core.xdp_stats`` (global, every device);
- v2: the netdev genetlink op ``xdp-stats-set`` {ifindex, enabled}, per device.

When the sysctl exists it is used, else the netlink op. Either way the
receiving device's counters are read back with ``xdp-stats-get``
(``drop-packets``), so a configuration that claims counting is on can be checked
to have counted. Netlink goes through the kernel tree's own ynl library and
netdev spec (tools/net/ynl, Documentation/netlink/specs/netdev.yaml): operation
and attribute numbers come from the tree under test, whichever version it is.
Standard library only, besides the tree's ynl library (which needs PyYAML).
"""

from __future__ import annotations

import errno
import importlib.util
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

XDP_STATS_SYSCTL = Path("/proc/sys/net/core/xdp_stats")
YNL_LIB = Path("tools/net/ynl/lib/__init__.py")
NETDEV_SPEC = Path("Documentation/netlink/specs/netdev.yaml")
SET_OP, GET_OP = "xdp-stats-set", "xdp-stats-get"


class StatsSwitchError(Exception):
    """Counting could not be switched or read; the message says which and why."""


def drop_packets(reply: Mapping[str, Any]) -> int | None:
    """``drop-packets`` of an xdp-stats-get reply (ynl names); None when the reply
    carries the ifindex only (v1: a device without counters)."""
    value = reply.get("drop-packets")
    if value is None:
        return None
    if not isinstance(value, int):
        raise StatsSwitchError(f"xdp-stats-get: drop-packets is not a number: {dict(reply)}")
    return value


def _load_ynl_lib(tree: Path) -> ModuleType:
    """The tree's tools/net/ynl/lib package, under a name of its own."""
    init = tree / YNL_LIB
    spec = importlib.util.spec_from_file_location(
        "bench_ynl_lib", init, submodule_search_locations=[str(init.parent)]
    )
    if spec is None or spec.loader is None:
        raise StatsSwitchError(f"cannot import {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Ynl:
    """The netdev family through the tree's ynl library (schema not validated)."""

    def __init__(self, tree: Path) -> None:
        try:
            lib = _load_ynl_lib(tree)
            self.family: Any = lib.YnlFamily(str(tree / NETDEV_SPEC), "")
        except StatsSwitchError:
            raise
        except Exception as exc:
            raise StatsSwitchError(f"the ynl library of {tree} failed to load: {exc}") from exc

    @staticmethod
    def available(tree: Path | None) -> bool:
        return tree is not None and (tree / YNL_LIB).is_file() and (tree / NETDEV_SPEC).is_file()

    def has(self, op: str) -> bool:
        return op in self.family.ops

    def do(self, op: str, vals: Mapping[str, int]) -> dict[str, Any]:
        """One do request; errors raise the library's NlError (``.error``: errno)."""
        reply = self.family.do(op, dict(vals))
        return dict(reply or {})


@dataclass
class StatsSwitch:
    """Counting of XDP verdicts on ``ifname``: ``set(True/False)``; ``drops()``."""

    kind: str  # "sysctl" or "netlink"
    ifname: str
    ynl: Ynl | None  # for xdp-stats-set (netlink) and for reading the counters

    @property
    def description(self) -> str:
        if self.kind == "sysctl":
            return f"sysctl {XDP_STATS_SYSCTL} (net.core.xdp_stats, every device)"
        return f"netdev genetlink {SET_OP} on {self.ifname} (per device)"

    def ifindex(self) -> int:
        return socket.if_nametoindex(self.ifname)

    def set(self, enabled: bool) -> None:
        value = int(enabled)
        if self.kind == "sysctl":
            XDP_STATS_SYSCTL.write_text(f"{value}\n")
            now = int(XDP_STATS_SYSCTL.read_text())
            if now != value:
                raise StatsSwitchError(f"{XDP_STATS_SYSCTL} reads {now} after writing {value}")
            return
        assert self.ynl is not None
        try:
            self.ynl.do(SET_OP, {"ifindex": self.ifindex(), "enabled": value})
        except Exception as exc:
            raise StatsSwitchError(f"{SET_OP} enabled={value} on {self.ifname}: {exc}") from exc

    def drops(self) -> int | None:
        """XDP_DROP verdicts counted on the device; None when it is not counting (or
        the tree cannot read counters)."""
        if self.ynl is None or not self.ynl.has(GET_OP):
            return None
        try:
            return drop_packets(self.ynl.do(GET_OP, {"ifindex": self.ifindex()}))
        except StatsSwitchError:
            raise
        except Exception as exc:
            if getattr(exc, "error", None) == errno.ENODATA:  # v2: not counting
                return None
            raise StatsSwitchError(f"{GET_OP} on {self.ifname}: {exc}") from exc


def find_switch(tree: Path | None, ifname: str) -> StatsSwitch | None:
    """The kernel's switch: the sysctl if it exists, else the netlink op if the
    tree's netdev spec has it; None for a kernel without XDP statistics."""
    ynl = Ynl(tree) if tree is not None and Ynl.available(tree) else None
    if XDP_STATS_SYSCTL.exists():
        return StatsSwitch("sysctl", ifname, ynl)
    if ynl is not None and ynl.has(SET_OP):
        return StatsSwitch("netlink", ifname, ynl)
    return None
