"""selftests/xdplib/xdp_stats: the xdp-stats-get messages, encoded and decoded (no VM).

Replies are built byte by byte as the kernel sends them (nlmsghdr, genlmsghdr,
attributes), not with the encoder under test.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "selftests"))

from xdplib.xdp_stats import (
    COUNTER_ATTRS,
    ENABLED_NLA,
    IFINDEX_NLA,
    NETDEV_CMD_XDP_STATS_GET,
    NETDEV_CMD_XDP_STATS_SET,
    XdpCounters,
    decode_msg,
    decode_ynl,
    request_msg,
    xdpstatsmsg,
)

NLA_HDR = struct.Struct("=HH")


def _nla(kind: int, payload: bytes) -> bytes:
    raw = NLA_HDR.pack(NLA_HDR.size + len(payload), kind) + payload
    return raw + bytes(-len(raw) % 4)


def _reply(attrs: bytes, family: int = 0x1A) -> xdpstatsmsg:
    genl = struct.pack("=BBH", NETDEV_CMD_XDP_STATS_GET, 1, 0)
    body = genl + attrs
    hdr = struct.pack("=IHHII", 16 + len(body), family, 0, 1, 0)
    msg = xdpstatsmsg(hdr + body)
    msg.decode()
    return msg


def _counters_attrs(values: dict[str, int], wide: frozenset[str] = frozenset()) -> bytes:
    out = b""
    for field, (num, _) in COUNTER_ATTRS.items():
        fmt = "=Q" if field in wide else "=I"
        out += _nla(num, struct.pack(fmt, values.get(field, 0)))
    return out


def test_attribute_numbers_follow_the_spec() -> None:
    """netdev.yaml of the v2 series: ifindex 1, enabled 2, the counters from 3."""
    assert (NETDEV_CMD_XDP_STATS_GET, NETDEV_CMD_XDP_STATS_SET) == (14, 15)
    assert {f: n for f, (n, _) in COUNTER_ATTRS.items()} == {
        "aborted_packets": 3,
        "aborted_bytes": 4,
        "drop_packets": 5,
        "drop_bytes": 6,
        "pass_packets": 7,
        "pass_bytes": 8,
        "tx_packets": 9,
        "tx_bytes": 10,
        "redirect_packets": 11,
        "redirect_bytes": 12,
        "invalid_packets": 13,
        "invalid_bytes": 14,
        "redirect_errors": 15,
        "xmit_drops": 16,
    }


def test_reply_with_4_and_8_byte_counters() -> None:
    values = {"drop_packets": 7, "drop_bytes": 5 << 32, "redirect_errors": 3, "pass_bytes": 98}
    msg = _reply(_nla(1, struct.pack("=I", 9)) + _counters_attrs(values, wide={"drop_bytes"}))
    ifindex, counters = decode_msg(msg)
    assert ifindex == 9
    assert counters == XdpCounters(drop_packets=7, drop_bytes=5 << 32, pass_bytes=98,
                                   redirect_errors=3)  # fmt: skip
    assert counters.packets("drop") == 7 and counters.bytes("drop") == 5 << 32


def test_reply_without_counters_is_malformed() -> None:
    """v2 reports only devices that count: a reply must carry every counter."""
    with pytest.raises(ValueError, match="lacks aborted-packets, aborted-bytes"):
        decode_msg(_reply(_nla(1, struct.pack("=I", 4))))
    attrs = _nla(1, struct.pack("=I", 4)) + _nla(5, struct.pack("=I", 1))
    with pytest.raises(ValueError, match="lacks aborted-packets"):
        decode_msg(_reply(attrs))


def test_reply_with_enabled_is_malformed() -> None:
    attrs = _nla(1, struct.pack("=I", 4)) + _nla(2, struct.pack("=I", 1)) + _counters_attrs({})
    with pytest.raises(ValueError, match="carries NETDEV_A_XDP_STATS_ENABLED"):
        decode_msg(_reply(attrs))


def test_uint_of_odd_width_is_rejected() -> None:
    attrs = _nla(1, struct.pack("=I", 4)) + _counters_attrs({})
    attrs = attrs.replace(_nla(5, struct.pack("=I", 0)), _nla(5, b"\x01\x02"), 1)
    with pytest.raises(ValueError, match=r"ifindex 4: undecodable counters \{'drop-packets': b'"):
        decode_msg(_reply(attrs))


def test_request_encoding() -> None:
    msg = request_msg(NETDEV_CMD_XDP_STATS_SET, [(IFINDEX_NLA, 3), (ENABLED_NLA, 1)])
    msg["header"]["type"] = 0x1A
    msg["header"]["flags"] = 0x5
    msg.encode()
    data = bytes(msg.data)
    length, kind, flags = struct.unpack_from("=IHH", data)
    assert (length, kind, flags) == (len(data), 0x1A, 0x5)
    assert data[16:18] == bytes([NETDEV_CMD_XDP_STATS_SET, 1])  # cmd, version
    assert data[20:] == _nla(1, struct.pack("=I", 3)) + _nla(2, struct.pack("=I", 1))
    dump = request_msg(NETDEV_CMD_XDP_STATS_GET, [])
    dump["header"]["type"] = 0x1A
    dump.encode()
    assert len(dump.data) == 20  # no attributes: the dump names no device


def test_large_counter_encodes_as_8_bytes() -> None:
    msg = xdpstatsmsg()
    msg["cmd"], msg["version"] = NETDEV_CMD_XDP_STATS_GET, 1
    msg["header"]["type"] = 0x1A
    msg["attrs"] = [
        ("NETDEV_A_XDP_STATS_DROP_BYTES", 1 << 40),
        ("NETDEV_A_XDP_STATS_DROP_PACKETS", 5),
    ]
    msg.encode()
    assert bytes(msg.data)[20:] == _nla(6, struct.pack("=Q", 1 << 40)) + _nla(
        5, struct.pack("=I", 5)
    )


def test_ynl_output_decodes_to_the_same_counters() -> None:
    reply = {"ifindex": 9, **{name: 0 for _, name in COUNTER_ATTRS.values()}}
    reply["tx-packets"], reply["tx-bytes"] = 2, 200
    assert decode_ynl(reply) == (9, XdpCounters(tx_packets=2, tx_bytes=200))
    # attributes a later series adds (multi-buffer's) are left alone
    assert decode_ynl({**reply, "tx-mb-packets": 1}) == decode_ynl(reply)
    with pytest.raises(ValueError, match="lacks"):
        decode_ynl({"ifindex": 9})


def test_counter_arithmetic() -> None:
    a = XdpCounters.of(drop=(2, 200), pass_=(1, 60)) + XdpCounters(redirect_errors=1)
    b = XdpCounters.of(drop=(1, 100))
    assert a - b == XdpCounters(drop_packets=1, drop_bytes=100, pass_packets=1, pass_bytes=60,
                                redirect_errors=1)  # fmt: skip
    assert (a - b) + b == a
    assert b.regressions(a) == {
        "drop_packets": (2, 1), "drop_bytes": (200, 100), "pass_packets": (1, 0),
        "pass_bytes": (60, 0), "redirect_errors": (1, 0),
    }  # fmt: skip
    assert a.diff(a) == "" and b.diff(a).startswith("drop_packets: 1 != 2")
    with pytest.raises(ValueError, match="unknown XDP stats bucket"):
        XdpCounters.of(dropped=(1, 1))
