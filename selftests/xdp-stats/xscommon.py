"""What the xdp-stats tests share: the programs' selectors and tallies, batches of
crafted frames, and checking counters once they have settled.

The programs (progs/xdp_stats_common.h) read the first character of a
marker's tag as a selector: a batch made with ``make_batch(flow, "D", 8)``
is 8 frames the verdict program drops. Frames of one batch have one length,
so a batch's bytes are ``count * frame_len``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xdplib import bpfobj
from xdplib.netns import NetNS, Port, create_veth, inside
from xdplib.poll import wait_settled
from xdplib.tracefs import TraceInstance
from xdplib.traffic import Flow, build_frame, exchange_split, make_markers
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import ACTIONS, XdpCounters

# The conftest's fixtures: attach(port, prog_fd, mode) -> prog id; attach_pass(port) ->
# the XDP_PASS object attached natively; trace("xdp/<event>", ...) -> a tracefs instance.
AttachFn = Callable[[Port, int, XdpMode], int]
AttachPassFn = Callable[[Port], bpfobj.BpfObject]
TraceFn = Callable[..., TraceInstance]


@dataclass(frozen=True)
class YnlResult:
    """What the conftest's ynl(ns, *args) fixture ran: the tree's ynl CLI, --output-json."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, (
            f"ynl exited {self.returncode}: {self.stderr.strip()} {self.stdout.strip()}"
        )
        return json.loads(self.stdout)


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
SEL_TRIM_DROP = "X"  # bpf_xdp_adjust_tail(-TRIM_BYTES), then XDP_DROP
TRIM_BYTES = 16

XDP_INVALID_ACTION = 7
XDP_DROP = 1
XDP_PASS = 2

# An ifindex no namespace of the tests has.
NO_SUCH_IFINDEX = 0x7FFF0000

# progs/xdp_stats_common.h
TALLY_STRAY = 6
TALLY_NR = 7
_TALLY_VAL = struct.Struct("=QQ")
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")


def u32(value: int) -> bytes:
    return _U32.pack(value)


def map_u64(obj: bpfobj.BpfObject, name: str, key: int) -> int:
    """An __u64 value of an array map."""
    return int(_U64.unpack(obj.map_lookup(name, u32(key), _U64.size))[0])


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
        _TALLY_VAL.unpack(obj.map_lookup(name, u32(i), _TALLY_VAL.size)) for i in range(TALLY_NR)
    ]
    # tally index i is the action's value; 5 is invalid, like ACTIONS
    crafted = XdpCounters.of(**{f"{action}_": vals[i] for i, action in enumerate(ACTIONS)})
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
            self.obj.map_update("tx_port", u32(slot), u32(ifindex))

    def set_redirect_ifindex(self, ifindex: int) -> None:
        self.obj.map_update("config", u32(0), u32(ifindex))

    def tally(self) -> Tally:
        return read_tally(self.obj)


def foreign_port(make_netns: Callable[[], NetNS], ns: NetNS) -> Port:
    """A device of a new namespace whose ifindex no device of ``ns`` has."""
    other = make_netns()
    taken = {int(link["index"]) for link in ns.ipr.get_links()}
    pair = create_veth(other, "xsf0", other, "xsf1")
    free = [p for p in pair if p.ifindex not in taken]
    assert free, f"both ends of {pair} have an ifindex of {ns.name}: {sorted(taken)}"
    return free[0]


def mismatch(what: str, expected: XdpCounters, got: XdpCounters) -> str:
    return (
        f"{what}: expected {expected.nonzero() or 'all zero'}, got {got.nonzero() or 'all zero'}"
        f" (differs: {got.diff(expected)})"
    )


def expect_counters(
    read: Callable[[], XdpCounters], expected: XdpCounters, what: str
) -> XdpCounters:
    """Poll ``read()`` until it is ``expected`` and stable; assert it is."""
    now = wait_settled(read, expected, what=what)
    assert now == expected, mismatch(what, expected, now)
    return now


def expect_port_counters(
    read: Callable[[Port], XdpCounters], expected: dict[Port, XdpCounters], what: str
) -> None:
    """``expect_counters`` for several ports at once: polled until every port's
    counters are as expected, then until none changes, in one quiet period (not one
    per port); each port that differs is asserted with its own message."""
    ports = list(expected)
    want = tuple(expected[p] for p in ports)
    now = wait_settled(lambda: tuple(read(p) for p in ports), want, what=what)
    wrong = [
        mismatch(f"{what}: {port}", exp, got)
        for port, got, exp in zip(ports, now, want, strict=True)
        if got != exp
    ]
    assert not wrong, "\n".join(wrong)


def send_verdicts(
    sender: Port, receiver: Port, prog: VerdictProg, action: str, count: int
) -> XdpCounters:
    """Send ``count`` frames asking ``prog`` (on ``receiver``) for ``action``; check that
    it returned that for each, and that passed frames (only those) reached the receiver's
    stack. Returns what these runs should add to the receiver's counters."""
    flow = Flow(src_mac=sender.mac, dst_mac=receiver.mac)
    batch = make_batch(flow, SELECTOR[action], count)
    before = prog.tally()
    got = exchange_split(
        sender, flow, batch.markers, {receiver: batch.markers if action == "pass" else []}
    )
    arrived = sorted(got[receiver].markers)
    assert arrived == (sorted(batch.markers) if action == "pass" else []), (
        f"{action} frames: {got[receiver].describe()}"
    )
    tally = prog.tally() - before
    want = XdpCounters.of(**{f"{action}_": batch.totals})
    assert tally.crafted == want, mismatch(f"{action}: the program's tally", want, tally.crafted)
    return tally.as_counted()
