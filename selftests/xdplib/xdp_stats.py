"""Per-device XDP verdict counters: the netdev family's xdp-stats-get and the sysctl.

What the xdp-stats series adds (Documentation/netlink/specs/netdev.yaml and
Documentation/networking/xdp-stats.rst of the patched tree):

- ``net.core.xdp_stats`` (0/1, CAP_NET_ADMIN). Enabling allocates counters
  for every device, and for devices registered while it is on; they stay
  until the device is freed.
- NETDEV_CMD_XDP_STATS_GET (do with an ifindex, dump for every device of the
  namespace). Attribute set ``xdp-stats``: IFINDEX (u32) then ``uint``
  counters (4 or 8 bytes on the wire). A device without counters is
  reported with its ifindex only.

The socket resolves the family in, and reads devices of, the network
namespace it was opened in.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlmsg, nla_base_string
from pyroute2.netlink.generic import AsyncGenericNetlinkSocket, GenericNetlinkSocket

from .netdev_genl import NETDEV_FAMILY_NAME, NETDEV_FAMILY_VERSION
from .netns import NetNS, Port, inside

NETDEV_CMD_XDP_STATS_GET = 14

XDP_STATS_SYSCTL = Path("/proc/sys/net/core/xdp_stats")

# The verdict buckets, in the order of their attributes.
ACTIONS = ("aborted", "drop", "pass", "tx", "redirect", "invalid")

# Counter field -> (attribute number, name in the YAML spec).
COUNTER_ATTRS: dict[str, tuple[int, str]] = {}
for _i, _action in enumerate(ACTIONS):
    COUNTER_ATTRS[f"{_action}_packets"] = (2 + 2 * _i, f"{_action}-packets")
    COUNTER_ATTRS[f"{_action}_bytes"] = (3 + 2 * _i, f"{_action}-bytes")
COUNTER_ATTRS["redirect_errors"] = (14, "redirect-errors")

IFINDEX_ATTR = 1


def _nla_name(field: str) -> str:
    return "NETDEV_A_XDP_STATS_" + field.upper()


class xdpstatsmsg(genlmsg):  # type: ignore[misc]
    """A message of the netdev family with the ``xdp-stats`` attribute set."""

    prefix = "NETDEV_A_XDP_STATS_"

    class uint(nla_base_string):  # type: ignore[misc]
        """NLA_UINT: an unsigned integer of 4 or 8 bytes, the smallest that fits."""

        __slots__ = ()

        def encode(self) -> None:
            value = int(self.value)
            self["value"] = struct.pack("=I" if value < 1 << 32 else "=Q", value)
            nla_base_string.encode(self)

        def decode(self) -> None:
            nla_base_string.decode(self)
            raw = self["value"]
            if len(raw) == 4:
                self.value = struct.unpack("=I", raw)[0]
            elif len(raw) == 8:
                self.value = struct.unpack("=Q", raw)[0]
            else:
                raise ValueError(f"uint attribute of {len(raw)} bytes: {raw.hex()}")

    nla_map = (
        (0, "NETDEV_A_XDP_STATS_UNSPEC", "none"),
        (IFINDEX_ATTR, "NETDEV_A_XDP_STATS_IFINDEX", "uint32"),
        *((num, _nla_name(field), "uint") for field, (num, _) in COUNTER_ATTRS.items()),
    )


@dataclass(frozen=True)
class XdpCounters:
    """The 13 counters of one device (or a difference of two readings)."""

    aborted_packets: int = 0
    aborted_bytes: int = 0
    drop_packets: int = 0
    drop_bytes: int = 0
    pass_packets: int = 0
    pass_bytes: int = 0
    tx_packets: int = 0
    tx_bytes: int = 0
    redirect_packets: int = 0
    redirect_bytes: int = 0
    invalid_packets: int = 0
    invalid_bytes: int = 0
    redirect_errors: int = 0

    @classmethod
    def of(cls, redirect_errors: int = 0, **buckets: tuple[int, int]) -> XdpCounters:
        """``XdpCounters.of(drop=(packets, bytes), pass_=(...))``; ``pass_`` for pass."""
        fields: dict[str, int] = {"redirect_errors": redirect_errors}
        for key, (packets, nbytes) in buckets.items():
            action = key.rstrip("_")
            if action not in ACTIONS:
                raise ValueError(f"unknown XDP stats bucket {key!r}; known: {ACTIONS}")
            fields[f"{action}_packets"] = packets
            fields[f"{action}_bytes"] = nbytes
        return cls(**fields)

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def packets(self, action: str) -> int:
        return int(getattr(self, f"{action}_packets"))

    def bytes(self, action: str) -> int:
        return int(getattr(self, f"{action}_bytes"))

    def __add__(self, other: XdpCounters) -> XdpCounters:
        a, b = self.as_dict(), other.as_dict()
        return XdpCounters(**{k: a[k] + b[k] for k in a})

    def __sub__(self, other: XdpCounters) -> XdpCounters:
        a, b = self.as_dict(), other.as_dict()
        return XdpCounters(**{k: a[k] - b[k] for k in a})

    def nonzero(self) -> dict[str, int]:
        return {k: v for k, v in self.as_dict().items() if v}

    def diff(self, other: XdpCounters) -> str:
        """The fields that differ, as ``name: self != other``; "" when equal."""
        a, b = self.as_dict(), other.as_dict()
        return ", ".join(f"{k}: {a[k]} != {b[k]}" for k in a if a[k] != b[k])

    def regressions(self, earlier: XdpCounters) -> dict[str, tuple[int, int]]:
        """Fields that went down since ``earlier``: name -> (earlier, now)."""
        a, b = earlier.as_dict(), self.as_dict()
        return {k: (a[k], b[k]) for k in a if b[k] < a[k]}


@dataclass(frozen=True)
class XdpStats:
    """One xdp-stats-get reply. ``counters`` is None when the reply carried the
    ifindex only: the device has no counters."""

    ifindex: int
    counters: XdpCounters | None

    @property
    def has_counters(self) -> bool:
        return self.counters is not None

    def require(self) -> XdpCounters:
        if self.counters is None:
            raise AssertionError(
                f"ifindex {self.ifindex} has no XDP stats counters (reply carried the ifindex only)"
            )
        return self.counters


def decode_reply(attrs: Mapping[str, Any]) -> XdpStats:
    """An XdpStats from a reply's attributes, keyed by NLA name.

    Counters are all there or all absent; anything in between is a malformed
    reply and raises ValueError naming what is missing."""
    ifindex = attrs.get("NETDEV_A_XDP_STATS_IFINDEX")
    if ifindex is None:
        raise ValueError(f"xdp-stats reply without an ifindex: {sorted(attrs)}")
    present = {f: attrs[_nla_name(f)] for f in COUNTER_ATTRS if attrs.get(_nla_name(f)) is not None}
    if not present:
        return XdpStats(int(ifindex), None)
    missing = [f for f in COUNTER_ATTRS if f not in present]
    if missing:
        raise ValueError(
            f"xdp-stats reply for ifindex {ifindex} has {len(present)} counters but lacks "
            f"{', '.join(COUNTER_ATTRS[f][1] for f in missing)}"
        )
    odd = {COUNTER_ATTRS[k][1]: v for k, v in present.items() if not isinstance(v, int)}
    if odd:
        # pyroute2 keeps the raw bytes of an attribute it could not decode
        raise ValueError(f"xdp-stats reply for ifindex {ifindex}: undecodable counters {odd}")
    return XdpStats(int(ifindex), XdpCounters(**present))


def decode_msg(msg: xdpstatsmsg) -> XdpStats:
    return decode_reply({name: value for name, value in msg["attrs"]})


def decode_ynl(reply: Mapping[str, Any]) -> XdpStats:
    """An XdpStats from the kernel's ynl CLI output (spec names: ``drop-packets``)."""
    attrs: dict[str, Any] = {}
    for key, value in reply.items():
        if key == "ifindex":
            attrs["NETDEV_A_XDP_STATS_IFINDEX"] = value
            continue
        field = key.replace("-", "_")
        if field not in COUNTER_ATTRS:
            raise ValueError(f"unexpected attribute {key!r} in ynl output {dict(reply)}")
        attrs[_nla_name(field)] = value
    return decode_reply(attrs)


def request_msg(ifindex: int | None) -> xdpstatsmsg:
    msg = xdpstatsmsg()
    msg["cmd"] = NETDEV_CMD_XDP_STATS_GET
    msg["version"] = NETDEV_FAMILY_VERSION
    if ifindex is not None:
        msg["attrs"].append(("NETDEV_A_XDP_STATS_IFINDEX", ifindex))
    return msg


class AsyncXdpStatsGenl(AsyncGenericNetlinkSocket):  # type: ignore[misc]
    async def setup_endpoint(self) -> None:
        if getattr(self.local, "transport", None) is not None:
            return
        await super().setup_endpoint()
        await self.bind(NETDEV_FAMILY_NAME, xdpstatsmsg)

    async def xdp_stats(self, ifindex: int | None, dump: bool) -> list[xdpstatsmsg]:
        msg = request_msg(ifindex)
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        return [
            reply
            async for reply in await self.nlm_request(msg, msg_type=self.prid, msg_flags=flags)
        ]


class XdpStatsGenl(GenericNetlinkSocket):  # type: ignore[misc]
    """``XdpStatsGenl().get(ifindex)``, ``.dump()``; errors raise NetlinkError(errno)."""

    async_class = AsyncXdpStatsGenl

    def __init__(self) -> None:
        super().__init__(ext_ack=True)

    def _replies(self, ifindex: int | None, dump: bool) -> list[XdpStats]:
        msgs = self._run_with_cleanup(self.asyncore.xdp_stats, ifindex, dump)
        return [decode_msg(m) for m in msgs if m.get_attr("NETDEV_A_XDP_STATS_IFINDEX") is not None]

    def get(self, ifindex: int) -> XdpStats:
        replies = self._replies(ifindex, dump=False)
        if len(replies) != 1 or replies[0].ifindex != ifindex:
            raise AssertionError(
                f"xdp-stats-get do for ifindex {ifindex} answered {len(replies)} replies: "
                f"{[r.ifindex for r in replies]}"
            )
        return replies[0]

    def do_raw(self, ifindex: int | None) -> list[XdpStats]:
        """A do request as given (``None``: without the ifindex attribute)."""
        return self._replies(ifindex, dump=False)

    def dump(self) -> dict[int, XdpStats]:
        """Every device of the socket's namespace, by ifindex."""
        out: dict[int, XdpStats] = {}
        for r in self._replies(None, dump=True):
            if r.ifindex in out:
                raise AssertionError(f"xdp-stats-get dump lists ifindex {r.ifindex} twice")
            out[r.ifindex] = r
        return out


class XdpStatsReader:
    """xdp-stats-get for ports of any namespace, through one socket per namespace."""

    def __init__(self) -> None:
        self._socks: dict[str, XdpStatsGenl] = {}

    def sock(self, ns: NetNS) -> XdpStatsGenl:
        sock = self._socks.get(ns.path)
        if sock is None:
            with inside(ns):
                sock = XdpStatsGenl()
            self._socks[ns.path] = sock
        return sock

    def get(self, port: Port) -> XdpStats:
        return self.sock(port.ns).get(port.ifindex)

    def counters(self, port: Port) -> XdpCounters:
        """The port's counters; AssertionError if it has none."""
        return self.get(port).require()

    def lo(self, ns: NetNS) -> XdpCounters:
        """The counters of the namespace's loopback device."""
        return self.sock(ns).get(ns.ifindex("lo")).require()

    def dump(self, ns: NetNS) -> dict[int, XdpStats]:
        return self.sock(ns).dump()

    def close(self) -> None:
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()


class XdpStatsSysctl:
    """net.core.xdp_stats: ``read()``, ``write(v)``; ``restore()`` puts back the value
    found at creation."""

    def __init__(self, path: Path = XDP_STATS_SYSCTL) -> None:
        self.path = path
        if not path.exists():
            raise AssertionError(f"{path} does not exist: is this the xdp-stats kernel?")
        self.original = self.read()

    def read(self) -> int:
        return int(self.path.read_text().strip())

    def write(self, value: int) -> None:
        self.path.write_text(f"{value}\n")
        now = self.read()
        if now != value:
            raise AssertionError(f"{self.path} reads {now} after writing {value}")

    def restore(self) -> None:
        self.write(self.original)

    @contextmanager
    def set_to(self, value: int) -> Iterator[None]:
        before = self.read()
        self.write(value)
        try:
            yield
        finally:
            self.write(before)
