"""What the xdp-stats tests share: the programs' selectors and tallies, batches of
crafted frames, and waiting for counters to settle.

The programs (progs/xdp_stats_common.h) read the first character of a
marker's tag as a selector: a batch made with ``make_batch(flow, "D", 8)``
is 8 frames the verdict program drops. Frames of one batch have one length,
so a batch's bytes are ``count * frame_len``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from xdplib import bpfobj
from xdplib.netns import NetNS, inside
from xdplib.traffic import ARRIVAL_TIMEOUT, SILENCE_TIMEOUT, Flow, build_frame, make_markers
from xdplib.xdp_stats import ACTIONS, XdpCounters

# Selectors of progs/xdp_stats_verdict.bpf.c.
SELECTOR = {
    "aborted": "A",
    "drop": "D",
    "pass": "P",
    "tx": "T",
    "redirect": "R",  # through tx_port slot 0
    "invalid": "I",  # returns 7
}
SEL_REDIRECT_SLOT1 = "S"  # through tx_port slot 1
SEL_REDIRECT_IFINDEX = "E"  # bpf_redirect(config[0])

XDP_INVALID_ACTION = 7

# progs/xdp_stats_common.h
TALLY_STRAY = 6
TALLY_NR = 7
_TALLY_VAL = struct.Struct("=QQ")


@dataclass(frozen=True)
class Batch:
    """``count`` crafted frames with one selector, all ``frame_len`` bytes long."""

    selector: str
    markers: list[bytes]
    frame_len: int

    @property
    def count(self) -> int:
        return len(self.markers)

    @property
    def nbytes(self) -> int:
        return self.count * self.frame_len

    @property
    def totals(self) -> tuple[int, int]:
        return self.count, self.nbytes


def make_batch(flow: Flow, selector: str, count: int, pad: int = 0) -> Batch:
    """Markers tagged ``selector`` (plus ``pad`` filler bytes, to tell batches apart by
    length)."""
    markers = make_markers(count, selector + "x" * pad)
    lengths = {len(build_frame(flow, m)) for m in markers}
    assert len(lengths) == 1, f"frames of one batch should have one length, got {lengths}"
    return Batch(selector, markers, lengths.pop())


def interleave(batches: list[Batch]) -> list[bytes]:
    """The markers of every batch, round robin."""
    out: list[bytes] = []
    longest = max(b.count for b in batches)
    for i in range(longest):
        out.extend(b.markers[i] for b in batches if i < b.count)
    return out


@dataclass(frozen=True)
class Tally:
    """What a program says it returned: crafted frames per action, and strays (passed)."""

    crafted: XdpCounters
    stray_packets: int
    stray_bytes: int

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.crafted - other.crafted,
            self.stray_packets - other.stray_packets,
            self.stray_bytes - other.stray_bytes,
        )

    @property
    def strays(self) -> XdpCounters:
        """Stray frames, as counted: passed."""
        return XdpCounters.of(pass_=(self.stray_packets, self.stray_bytes))

    def as_counted(self) -> XdpCounters:
        """The counters the kernel should show for these runs."""
        return self.crafted + self.strays


def read_tally(obj: bpfobj.BpfObject, name: str = "tally") -> Tally:
    vals = [
        _TALLY_VAL.unpack(obj.map_lookup(name, struct.pack("=I", i), _TALLY_VAL.size))
        for i in range(TALLY_NR)
    ]
    buckets = {
        f"{action}_": vals[i] for i, action in enumerate(ACTIONS)
    }  # tally index i is the action's value; 5 is invalid, like ACTIONS
    crafted = XdpCounters.of(**buckets)
    return Tally(crafted, vals[TALLY_STRAY][0], vals[TALLY_STRAY][1])


class VerdictProg:
    """progs/xdp_stats_verdict.bpf.c, loaded: its fd, its maps, its tally."""

    STEM = "xdp_stats_verdict"

    def __init__(self, obj: bpfobj.BpfObject) -> None:
        self.obj = obj
        self.fd = obj.prog_fd(self.STEM)
        self.id = bpfobj.prog_id(self.fd)

    def set_slot(self, slot: int, ifindex: int, ns: NetNS) -> None:
        """tx_port[slot] = ifindex; a devmap resolves it in the updater's namespace."""
        with inside(ns):
            self.obj.map_update("tx_port", struct.pack("=I", slot), struct.pack("=I", ifindex))

    def set_redirect_ifindex(self, ifindex: int) -> None:
        self.obj.map_update("config", struct.pack("=I", 0), struct.pack("=I", ifindex))

    def tally(self) -> Tally:
        return read_tally(self.obj)


def wait_for_counters(
    read: Callable[[], XdpCounters], expected: XdpCounters, timeout: float = ARRIVAL_TIMEOUT
) -> XdpCounters:
    """Poll until ``read()`` equals ``expected`` or ``timeout`` passes; the last reading.

    Dropped frames leave nothing to wait for: the counters are the only sign
    they were processed. Then SILENCE_TIMEOUT more, so that late extra counts
    show up in the reading returned."""
    deadline = time.monotonic() + timeout
    now = read()
    while now != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        now = read()
    if now == expected:
        time.sleep(SILENCE_TIMEOUT)
        now = read()
    return now


def mismatch(what: str, expected: XdpCounters, got: XdpCounters) -> str:
    return (
        f"{what}: expected {expected.nonzero() or 'all zero'}, got {got.nonzero() or 'all zero'}"
        f" (differs: {got.diff(expected)})"
    )
