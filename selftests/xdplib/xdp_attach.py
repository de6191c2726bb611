"""Attach, detach and query XDP programs over rtnetlink (IFLA_XDP).

Requests go out as RTM_SETLINK with a nested IFLA_XDP carrying IFLA_XDP_FD,
IFLA_XDP_FLAGS and, for XDP_FLAGS_REPLACE, IFLA_XDP_EXPECTED_FD. The IPRoute
socket is opened with extended acks, so a refusal surfaces as
``pyroute2.NetlinkError`` whose ``code`` is the kernel's errno and whose
second argument is the extack message (or strerror when there is none).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pyroute2 import IPRoute

from .bpfobj import prog_id

# include/uapi/linux/if_link.h
XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2
XDP_FLAGS_HW_MODE = 1 << 3
XDP_FLAGS_REPLACE = 1 << 4

XDP_ATTACHED_NONE = 0
XDP_ATTACHED_DRV = 1
XDP_ATTACHED_SKB = 2
XDP_ATTACHED_HW = 3
XDP_ATTACHED_MULTI = 4


class XdpMode(enum.Enum):
    """How a program is attached: in the driver or in the generic skb path."""

    NATIVE = ("native", XDP_FLAGS_DRV_MODE, XDP_ATTACHED_DRV)
    GENERIC = ("generic", XDP_FLAGS_SKB_MODE, XDP_ATTACHED_SKB)
    OFFLOAD = ("offload", XDP_FLAGS_HW_MODE, XDP_ATTACHED_HW)

    def __init__(self, label: str, flag: int, attached: int) -> None:
        self.label = label
        self.flag = flag
        self.attached = attached

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class XdpState:
    """What IFLA_XDP reports for one interface."""

    attached: int
    prog_id: int
    drv_prog_id: int
    skb_prog_id: int
    hw_prog_id: int

    def prog_id_for(self, mode: XdpMode) -> int:
        return {
            XdpMode.NATIVE: self.drv_prog_id,
            XdpMode.GENERIC: self.skb_prog_id,
            XdpMode.OFFLOAD: self.hw_prog_id,
        }[mode]


def _setlink_xdp(ipr: IPRoute, ifindex: int, attrs: list[tuple[str, int]]) -> None:
    # RTM_SETLINK with NLM_F_ACK; a NACK raises NetlinkError(errno, extack).
    ipr.link("set", index=ifindex, IFLA_XDP={"attrs": attrs})


def set_xdp_fd(
    ipr: IPRoute,
    ifindex: int,
    prog_fd: int,
    flags: int,
    expected_fd: int | None = None,
) -> None:
    """Raw IFLA_XDP request: any fd and flag combination, as a user could send."""
    attrs: list[tuple[str, int]] = [("IFLA_XDP_FD", prog_fd)]
    if flags:
        attrs.append(("IFLA_XDP_FLAGS", flags))
    if expected_fd is not None:
        attrs.append(("IFLA_XDP_EXPECTED_FD", expected_fd))
    _setlink_xdp(ipr, ifindex, attrs)


def attach(
    ipr: IPRoute,
    ifindex: int,
    prog_fd: int,
    mode: XdpMode,
    *,
    extra_flags: int = 0,
    expected_fd: int | None = None,
) -> None:
    set_xdp_fd(ipr, ifindex, prog_fd, mode.flag | extra_flags, expected_fd)


def detach(ipr: IPRoute, ifindex: int, mode: XdpMode) -> None:
    set_xdp_fd(ipr, ifindex, -1, mode.flag)


def query(ipr: IPRoute, ifindex: int) -> XdpState:
    (link,) = ipr.link("get", index=ifindex)
    xdp = link.get_attr("IFLA_XDP")
    if xdp is None:
        return XdpState(XDP_ATTACHED_NONE, 0, 0, 0, 0)

    def u32(name: str) -> int:
        value = xdp.get_attr(name)
        return int(value) if value is not None else 0

    attached = _raw_attached(xdp.get_attr("IFLA_XDP_ATTACHED"))
    return XdpState(
        attached=attached,
        prog_id=u32("IFLA_XDP_PROG_ID"),
        drv_prog_id=u32("IFLA_XDP_DRV_PROG_ID"),
        skb_prog_id=u32("IFLA_XDP_SKB_PROG_ID"),
        hw_prog_id=u32("IFLA_XDP_HW_PROG_ID"),
    )


# pyroute2 decodes IFLA_XDP_ATTACHED through a value map into these names.
_ATTACHED_NAMES: dict[object, int] = {
    None: XDP_ATTACHED_NONE,
    "xdp": XDP_ATTACHED_DRV,
    "xdpgeneric": XDP_ATTACHED_SKB,
    "xdpoffload": XDP_ATTACHED_HW,
    "xdpmulti": XDP_ATTACHED_MULTI,
}


def _raw_attached(value: object) -> int:
    if isinstance(value, int):
        return value
    if value in _ATTACHED_NAMES:
        return _ATTACHED_NAMES[value]
    raise ValueError(f"unexpected IFLA_XDP_ATTACHED value {value!r}")


BOTH_MODES = (XdpMode.NATIVE, XdpMode.GENERIC)


def attach_verified(ipr: IPRoute, ifindex: int, prog_fd: int, mode: XdpMode, what: str = "") -> int:
    """Attach, then check IFLA_XDP reports exactly this program in this mode.

    Returns the program id. Raises AssertionError describing the mismatch.
    """
    attach(ipr, ifindex, prog_fd, mode)
    expected = prog_id(prog_fd)
    state = query(ipr, ifindex)
    label = what or f"fd {prog_fd} on ifindex {ifindex}"
    assert state.attached == mode.attached, (
        f"after attaching {label} in {mode} mode IFLA_XDP_ATTACHED is "
        f"{state.attached}, expected {mode.attached}"
    )
    assert state.prog_id_for(mode) == expected, (
        f"after attaching {label} in {mode} mode the {mode} prog id is "
        f"{state.prog_id_for(mode)}, expected {expected}"
    )
    return expected
