"""Per-device XDP verdict counters: the netdev family's xdp-stats-get and xdp-stats-set.

What the xdp-stats series (v2) adds (Documentation/netlink/specs/netdev.yaml
and Documentation/networking/xdp-stats.rst of the patched tree):

- NETDEV_CMD_XDP_STATS_SET (do: ifindex, enabled 0/1) starts or stops
  counting on one device. It needs CAP_NET_ADMIN in the user namespace that
  owns the device's network namespace (GENL_UNS_ADMIN_PERM). Enabling
  allocates zeroed counters, enabling again keeps them; disabling frees them
  (the counts are lost).
- NETDEV_CMD_XDP_STATS_GET: a do names one device (ENODEV if there is none,
  ENODATA if it does not count); a dump reports the devices of the
  namespace that count, optionally only the one of an ifindex filter.
  Errors of a dump come in its NLMSG_DONE message, which this client raises
  as it does a do's. Attribute set ``xdp-stats``: IFINDEX (u32), ENABLED (u32, requests of
  xdp-stats-set only), then ``uint`` counters (4 or 8 bytes on the wire).

There is no sysctl (v1's net.core.xdp_stats is gone). A socket resolves the
family in, and names devices of, the network namespace it was opened in.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pyroute2 import NetlinkError
from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    genlmsg,
    nla_base_string,
)
from pyroute2.netlink.generic import AsyncGenericNetlinkSocket, GenericNetlinkSocket

from .netdev_genl import NETDEV_FAMILY_NAME, NETDEV_FAMILY_VERSION
from .netns import NetNS, Port, inside
from .refusals import expect_errno

NETDEV_CMD_XDP_STATS_GET = 14
NETDEV_CMD_XDP_STATS_SET = 15

IFINDEX_ATTR = 1
ENABLED_ATTR = 2

# The verdict buckets, in the order of their attributes.
ACTIONS = ("aborted", "drop", "pass", "tx", "redirect", "invalid")

# Counter field -> (attribute number, name in the YAML spec).
COUNTER_ATTRS: dict[str, tuple[int, str]] = {}
for _i, _action in enumerate(ACTIONS):
    COUNTER_ATTRS[f"{_action}_packets"] = (3 + 2 * _i, f"{_action}-packets")
    COUNTER_ATTRS[f"{_action}_bytes"] = (4 + 2 * _i, f"{_action}-bytes")
COUNTER_ATTRS["redirect_errors"] = (15, "redirect-errors")
COUNTER_ATTRS["xmit_drops"] = (16, "xmit-drops")

# The multi-buffer series adds, per verdict, the packets that had frags: counter
# field -> (attribute number, spec name). Not in XdpCounters; see mb_packets().
MB_COUNTER_ATTRS: dict[str, tuple[int, str]] = {
    f"{action}_mb_packets": (17 + i, f"{action}-mb-packets") for i, action in enumerate(ACTIONS)
}


def _nla_name(field: str) -> str:
    return "NETDEV_A_XDP_STATS_" + field.upper()


# netdev_nl_xdp_stats_get_doit()'s extack for ENODATA
NOT_ENABLED = "XDP statistics are not enabled on the device"

IFINDEX_NLA = _nla_name("ifindex")
ENABLED_NLA = _nla_name("enabled")


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
        (IFINDEX_ATTR, IFINDEX_NLA, "uint32"),
        (ENABLED_ATTR, ENABLED_NLA, "uint32"),
        *((num, _nla_name(field), "uint") for field, (num, _) in COUNTER_ATTRS.items()),
        *((num, _nla_name(field), "uint") for field, (num, _) in MB_COUNTER_ATTRS.items()),
    )


@dataclass(frozen=True)
class XdpCounters:
    """The 14 counters of one device (or a difference of two readings)."""

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
    xmit_drops: int = 0

    @classmethod
    def of(cls, **buckets: tuple[int, int]) -> XdpCounters:
        """``XdpCounters.of(drop=(packets, bytes), pass_=(...))``; ``pass_`` for pass."""
        fields: dict[str, int] = {}
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


ZERO = XdpCounters()


def decode_reply(attrs: Mapping[str, Any]) -> tuple[int, XdpCounters]:
    """(ifindex, counters) from a reply's attributes, keyed by NLA name.

    A reply carries the ifindex and every counter: one missing or undecodable
    raises ValueError naming it, and so does ``enabled`` (a request attribute).
    Attributes this client does not know (pyroute2's "UNKNOWN": counters a later
    series adds, such as multi-buffer's) are left alone."""
    ifindex = attrs.get(IFINDEX_NLA)
    if ifindex is None:
        raise ValueError(f"xdp-stats reply without an ifindex: {sorted(attrs)}")
    if ENABLED_NLA in attrs:
        raise ValueError(f"xdp-stats reply for ifindex {ifindex} carries {ENABLED_NLA}")
    missing = [spec for f, (_, spec) in COUNTER_ATTRS.items() if attrs.get(_nla_name(f)) is None]
    if missing:
        raise ValueError(f"xdp-stats reply for ifindex {ifindex} lacks {', '.join(missing)}")
    values = {f: attrs[_nla_name(f)] for f in COUNTER_ATTRS}
    odd = {COUNTER_ATTRS[k][1]: v for k, v in values.items() if not isinstance(v, int)}
    if odd:
        # pyroute2 keeps the raw bytes of an attribute it could not decode
        raise ValueError(f"xdp-stats reply for ifindex {ifindex}: undecodable counters {odd}")
    return int(ifindex), XdpCounters(**values)


def decode_msg(msg: xdpstatsmsg) -> tuple[int, XdpCounters]:
    return decode_reply({name: value for name, value in msg["attrs"]})


def decode_ynl(reply: Mapping[str, Any]) -> tuple[int, XdpCounters]:
    """(ifindex, counters) from the kernel's ynl CLI output (spec names: ``drop-packets``);
    names this client does not know are left alone, as in ``decode_reply``."""
    attrs: dict[str, Any] = {}
    for key, value in reply.items():
        field = key.replace("-", "_")
        if field in ("ifindex", "enabled") or field in COUNTER_ATTRS:
            attrs[_nla_name(field)] = value
    return decode_reply(attrs)


def request_msg(cmd: int, attrs: Iterable[tuple[str, int]]) -> xdpstatsmsg:
    msg = xdpstatsmsg()
    msg["cmd"] = cmd
    msg["version"] = NETDEV_FAMILY_VERSION
    msg["attrs"].extend(attrs)
    return msg


def _raise_dump_errors(marshal: Any) -> None:
    """Make a dump's error an exception: the kernel reports it in the NLMSG_DONE message
    (an int after the header), which pyroute2 reads only when it carries an extack."""
    parse_one = marshal.parse_one_message

    def parse(key: int, flags: int, seq: int, data: bytes, offset: int, length: int) -> Any:
        msg = parse_one(key, flags, seq, data, offset, length)
        if key == NLMSG_DONE and msg["header"].get("error") is None and length >= 20:
            (code,) = struct.unpack_from("=i", data, offset + 16)
            if code < 0:
                msg["header"]["error"] = NetlinkError(-code, os.strerror(-code))
        return msg

    marshal.parse_one_message = parse


class AsyncXdpStatsGenl(AsyncGenericNetlinkSocket):  # type: ignore[misc]
    async def setup_endpoint(self) -> None:
        if getattr(self.local, "transport", None) is not None:
            return
        await super().setup_endpoint()
        await self.bind(NETDEV_FAMILY_NAME, xdpstatsmsg)
        _raise_dump_errors(self.marshal)

    async def request(
        self, cmd: int, attrs: list[tuple[str, int]], dump: bool
    ) -> list[xdpstatsmsg]:
        msg = request_msg(cmd, attrs)
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        return [
            reply
            async for reply in await self.nlm_request(msg, msg_type=self.prid, msg_flags=flags)
        ]


class XdpStatsGenl(GenericNetlinkSocket):  # type: ignore[misc]
    """``get(ifindex)``, ``dump()``, ``set(ifindex, enabled)`` on the netdev family;
    errors raise pyroute2's NetlinkError (``code`` the errno, ``args[1]`` the extack)."""

    async_class = AsyncXdpStatsGenl

    def __init__(self) -> None:
        super().__init__(ext_ack=True)

    def request(
        self, cmd: int, attrs: list[tuple[str, int]], dump: bool = False
    ) -> list[tuple[int, XdpCounters]]:
        """Any request, attributes as given (by NLA name); the decoded replies."""
        msgs = self._run_with_cleanup(self.asyncore.request, cmd, attrs, dump)
        return [decode_msg(m) for m in msgs if m.get_attr(IFINDEX_NLA) is not None]

    def get(self, ifindex: int) -> XdpCounters:
        replies = self.request(NETDEV_CMD_XDP_STATS_GET, [(IFINDEX_NLA, ifindex)])
        if [i for i, _ in replies] != [ifindex]:
            raise AssertionError(
                f"xdp-stats-get do for ifindex {ifindex} answered for {[i for i, _ in replies]}"
            )
        return replies[0][1]

    def dump(self, ifindex: int | None = None) -> dict[int, XdpCounters]:
        """The counting devices of the socket's namespace (only ``ifindex``, if given)."""
        attrs = [] if ifindex is None else [(IFINDEX_NLA, ifindex)]
        out: dict[int, XdpCounters] = {}
        for i, counters in self.request(NETDEV_CMD_XDP_STATS_GET, attrs, dump=True):
            if i in out:
                raise AssertionError(f"xdp-stats-get dump lists ifindex {i} twice")
            out[i] = counters
        return out

    def mb_packets(self, ifindex: int) -> dict[str, int]:
        """The multi-buffer series' counters of a device (a do), by spec name
        (``pass-mb-packets``); ValueError if the reply lacks one (no such series)."""
        msgs = self._run_with_cleanup(
            self.asyncore.request, NETDEV_CMD_XDP_STATS_GET, [(IFINDEX_NLA, ifindex)], False
        )
        (msg,) = [m for m in msgs if m.get_attr(IFINDEX_NLA) == ifindex]
        out = {spec: msg.get_attr(_nla_name(f)) for f, (_, spec) in MB_COUNTER_ATTRS.items()}
        odd = {k: v for k, v in out.items() if not isinstance(v, int)}
        if odd:
            raise ValueError(f"xdp-stats reply for ifindex {ifindex}: mb counters {odd}")
        return out

    def set(self, ifindex: int, enabled: int) -> None:
        replies = self.request(
            NETDEV_CMD_XDP_STATS_SET, [(IFINDEX_NLA, ifindex), (ENABLED_NLA, enabled)]
        )
        if replies:
            raise AssertionError(f"xdp-stats-set answered with data: {replies}")


class XdpStatsReader:
    """xdp-stats-get and -set for ports of any namespace, one socket per namespace.

    Devices it enabled counting on are disabled again by ``close()`` (those
    still there: devices of a test namespace go with it anyway)."""

    def __init__(self) -> None:
        self._socks: dict[str, XdpStatsGenl] = {}
        self._enabled: dict[tuple[str, int], Port] = {}

    def sock(self, ns: NetNS) -> XdpStatsGenl:
        sock = self._socks.get(ns.path)
        if sock is None:
            with inside(ns):
                sock = XdpStatsGenl()
            self._socks[ns.path] = sock
        return sock

    def enable(self, *ports: Port) -> None:
        for port in ports:
            self.sock(port.ns).set(port.ifindex, 1)
            self._enabled[(port.ns.path, port.ifindex)] = port

    def disable(self, *ports: Port) -> None:
        for port in ports:
            self.sock(port.ns).set(port.ifindex, 0)
            self._enabled.pop((port.ns.path, port.ifindex), None)

    def counters(self, port: Port) -> XdpCounters:
        """The port's counters (xdp-stats-get do); NetlinkError if it has none."""
        return self.sock(port.ns).get(port.ifindex)

    def dump(self, ns: NetNS, ifindex: int | None = None) -> dict[int, XdpCounters]:
        return self.sock(ns).dump(ifindex)

    def mb_packets(self, port: Port) -> dict[str, int]:
        """The port's {verdict}-mb-packets (the multi-buffer series)."""
        return self.sock(port.ns).mb_packets(port.ifindex)

    def expect_not_counting(self, port: Port, what: str = "") -> None:
        """A do for the port fails with ENODATA, and a dump leaves it out."""
        label = f"{what}: {port}" if what else str(port)
        expect_errno(lambda: self.counters(port), errno.ENODATA, f"{label} get", NOT_ENABLED)
        dumped = self.dump(port.ns)
        assert port.ifindex not in dumped, f"{label}: a dump reports it: {dumped[port.ifindex]}"

    def close(self) -> None:
        for (path, ifindex), port in list(self._enabled.items()):
            sock = self._socks.get(path)
            try:
                if sock is not None:
                    sock.set(ifindex, 0)
            except NetlinkError as e:
                if e.code != errno.ENODEV:
                    raise AssertionError(f"disabling counting on {port} at teardown: {e}") from e
        self._enabled.clear()
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()
