"""Send marked UDP frames from one interface and see which arrive where.

Every frame carries a unique payload marker. A :class:`Capture` is an
AF_PACKET socket bound to one interface (opened in that interface's
namespace before anything is sent); it ignores frames the host itself sends
(PACKET_OUTGOING) and reports the markers of the UDP frames that came in.
scapy builds and parses the frames; only the layers needed are imported, not
``scapy.all`` (slow to import in an emulated guest).
"""

from __future__ import annotations

import os
import select
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from xdplib.closing import Closing

from .netns import Port, inside

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MARKER_PREFIX = b"XDPSELFTEST:"
DEFAULT_DPORT = 40000


@dataclass(frozen=True)
class Flow:
    """Addresses of the frames one test sends."""

    src_mac: str
    dst_mac: str
    src_ip: str = "192.0.2.1"
    dst_ip: str = "192.0.2.2"
    sport: int = 40001
    dport: int = DEFAULT_DPORT


def make_markers(count: int, tag: str = "") -> list[bytes]:
    """``count`` payloads unique to this call: prefix, tag, run id, sequence."""
    run = uuid.uuid4().hex[:12]
    return [MARKER_PREFIX + f"{tag}:{run}:{i:04d}".encode() for i in range(count)]


def build_frame(flow: Flow, marker: bytes) -> bytes:
    pkt = (
        Ether(src=flow.src_mac, dst=flow.dst_mac)
        / IP(src=flow.src_ip, dst=flow.dst_ip, ttl=64)
        / UDP(sport=flow.sport, dport=flow.dport)
        / Raw(load=marker)
    )
    return bytes(pkt)


def parse_marked(frame: bytes, dport: int = DEFAULT_DPORT) -> tuple[bytes, Ether] | None:
    """(marker, parsed frame) for a UDP frame to ``dport`` carrying a marker.

    Anything else gives None. ICMP errors quoting one of our frames parse as
    IPerror/UDPerror in scapy, not as UDP, so they never count as an arrival.
    """
    if MARKER_PREFIX not in frame:
        return None
    pkt = Ether(frame)
    if not pkt.haslayer(UDP) or pkt[UDP].dport != dport or not pkt.haslayer(Raw):
        return None
    load = bytes(pkt[Raw].load)
    return (load, pkt) if load.startswith(MARKER_PREFIX) else None


def send_frames(port: Port, frames: Iterable[bytes]) -> int:
    """Transmit raw frames on ``port`` (AF_PACKET socket opened in its namespace)."""
    with inside(port.ns):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sent = 0
    try:
        sock.bind((port.ifname, 0))
        for frame in frames:
            sock.send(frame)
            sent += 1
    finally:
        sock.close()
    return sent


@dataclass
class Arrivals:
    """Markers seen on one interface, and the frames that carried them."""

    port: Port
    markers: list[bytes] = field(default_factory=list)
    frames: list[Ether] = field(default_factory=list)

    @property
    def marker_set(self) -> set[bytes]:
        return set(self.markers)

    def missing(self, expected: Iterable[bytes]) -> list[bytes]:
        seen = self.marker_set
        return [m for m in expected if m not in seen]

    def describe(self, limit: int = 5) -> str:
        shown = ", ".join(m.decode(errors="replace") for m in self.markers[:limit])
        more = "" if len(self.markers) <= limit else f" (+{len(self.markers) - limit} more)"
        return f"{len(self.markers)} marked frames on {self.port}: [{shown}]{more}"


class Capture(Closing):
    """AF_PACKET capture of incoming frames on one interface."""

    def __init__(self, port: Port, dport: int = DEFAULT_DPORT) -> None:
        self.port = port
        self.dport = dport
        with inside(port.ns):
            self._sock: socket.socket | None = socket.socket(
                socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)
            )
        self._sock.bind((port.ifname, ETH_P_ALL))
        self._sock.setblocking(False)
        self.arrivals = Arrivals(port)

    def _drain_once(self, wait: float) -> bool:
        assert self._sock is not None
        ready, _, _ = select.select([self._sock], [], [], max(wait, 0.0))
        if not ready:
            return False
        while True:
            try:
                data, addr = self._sock.recvfrom(65535)
            except BlockingIOError:
                return True
            if addr[2] == PACKET_OUTGOING:
                continue
            marked = parse_marked(data, self.dport)
            if marked is not None:
                self.arrivals.markers.append(marked[0])
                self.arrivals.frames.append(marked[1])

    def collect(
        self,
        timeout: float,
        until: Iterable[bytes] | None = None,
    ) -> Arrivals:
        """Read for ``timeout`` seconds, or until every marker in ``until`` arrived."""
        wanted = set(until) if until is not None else None
        deadline = time.monotonic() + timeout
        while True:
            if wanted is not None and wanted <= self.arrivals.marker_set:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._drain_once(min(left, 0.2))
        return self.arrivals

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


# Seconds to wait for frames that should arrive, and for frames that should
# not (how long silence must last before "nothing arrived" is believed).
# Emulated guests (QEMU TCG) are slow; the environment may stretch both.
ARRIVAL_TIMEOUT = float(os.environ.get("XDP_SELFTEST_ARRIVAL_TIMEOUT", "5"))
SILENCE_TIMEOUT = float(os.environ.get("XDP_SELFTEST_SILENCE_TIMEOUT", "1.5"))


def exchange(
    sender: Port,
    flow: Flow,
    markers: list[bytes],
    expect_at: Iterable[Port] = (),
    expect_none_at: Iterable[Port] = (),
) -> dict[Port, Arrivals]:
    """Open captures, send one frame per marker, collect where they went.

    Captures expecting the markers are read until all arrived (or
    ARRIVAL_TIMEOUT); the others are then read until SILENCE_TIMEOUT has passed.
    """
    expect_at = list(expect_at)
    expect_none_at = list(expect_none_at)
    captures = {port: Capture(port, flow.dport) for port in expect_at + expect_none_at}
    try:
        send_frames(sender, (build_frame(flow, m) for m in markers))
        results: dict[Port, Arrivals] = {}
        for port in expect_at:
            results[port] = captures[port].collect(ARRIVAL_TIMEOUT, until=markers)
        # one quiet period for all of them, not one after the other
        deadline = time.monotonic() + SILENCE_TIMEOUT
        for port in expect_none_at:
            results[port] = captures[port].collect(max(deadline - time.monotonic(), 0.05))
        return results
    finally:
        for cap in captures.values():
            cap.close()


def exchange_split(
    sender: Port,
    flow: Flow,
    markers: list[bytes],
    expected: dict[Port, list[bytes]],
) -> dict[Port, Arrivals]:
    """Send one frame per marker; each port in ``expected`` should see exactly its own
    subset of the markers (possibly none).

    Ports expecting frames are read until theirs arrived (or ARRIVAL_TIMEOUT),
    then every port is read for SILENCE_TIMEOUT more, so that frames that
    should not arrive, or arrive twice, have the time to show up."""
    captures = {port: Capture(port, flow.dport) for port in expected}
    try:
        send_frames(sender, (build_frame(flow, m) for m in markers))
        for port, wanted in expected.items():
            if wanted:
                captures[port].collect(ARRIVAL_TIMEOUT, until=wanted)
        deadline = time.monotonic() + SILENCE_TIMEOUT
        for cap in captures.values():
            cap.collect(max(deadline - time.monotonic(), 0.05))
        return {port: cap.arrivals for port, cap in captures.items()}
    finally:
        for cap in captures.values():
            cap.close()
