"""Switching counting on and off many times while traffic flows, and while devices and
namespaces that count come and go: no splat (the harness fails the run on any), and
readings consistent with what the program says it did.

A flood of frames the program drops runs from a thread. Each reading of the
receiver's counters, taken while it counts, is bracketed by readings of the
program's tally: the drops counted since counting was (last) enabled must
lie between the drops tallied from just after the enable to just before the
reading (less the frames a CPU had tallied but not yet counted) and the
drops tallied from just before the enable to just after the reading (plus
those a CPU had tallied and counted once counting was on): a
re-enable starts from zero, an enable of a device that counts keeps its
counts (readings never go down), a disable frees them (ENODATA at once).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from xdplib.netns import Port, inside
from xdplib.poll import settle
from xdplib.topology import VethPair
from xdplib.traffic import Flow, build_frame
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import XdpCounters, XdpStatsReader
from xdplib.xdp_stats_child import Op, Outcome, Privilege, run
from xscommon import AttachFn, VerdictProg, expect_counters, make_batch, send_verdicts

TOGGLES = 30
READS_PER_TOGGLE = 3
FLOOD_SECONDS_MAX = 300.0
CHURN_CYCLES = 24
N = 16
# Frames a CPU may have tallied (in the program) and not yet counted (after it
# returned) when a reading, or an enable, happens: one per CPU.
IN_FLIGHT = os.cpu_count() or 1


class Flood:
    """Send one frame over and over from a thread, until stopped; count what was sent."""

    def __init__(self, port: Port, frame: bytes) -> None:
        with inside(port.ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.sock.bind((port.ifname, 0))
        self.frame = frame
        self.sent = 0
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + FLOOD_SECONDS_MAX
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                self.sock.send(self.frame)
                self.sent += 1
            except OSError as e:  # ENOBUFS when the ring is full: try again
                if len(self.errors) < 5:
                    self.errors.append(str(e))
                time.sleep(0.001)

    def __enter__(self) -> Flood:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@dataclass
class Toggler:
    """Enable/disable counting on ``port`` under a flood of drops, checking each reading
    against the program's tally."""

    port: Port
    prog: VerdictProg
    stats: XdpStatsReader
    frame_len: int
    enables: int = 0
    readings: int = 0
    periods: int = 0  # times counting went from off to on
    periods_counted: int = 0  # ... and drops were counted before it went off
    before_enable: int = 0  # drops tallied just before the last enable from off
    after_enable: int = 0  # ... and just after it
    last: XdpCounters | None = None

    def drops(self) -> int:
        return self.prog.tally().crafted.drop_packets

    def enable(self) -> None:
        fresh = self.last is None
        before = self.drops()
        self.stats.enable(self.port)
        after = self.drops()
        self.enables += 1
        if fresh:  # a re-enable of a counting device keeps the window it had
            self.before_enable, self.after_enable = before, after
            self.last = XdpCounters()
            self.periods += 1

    def disable(self) -> None:
        if self.last is not None and self.last.drop_packets:
            self.periods_counted += 1
        self.stats.disable(self.port)
        self.last = None
        self.stats.expect_not_counting(self.port, f"disabled after {self.enables} enables")

    def read(self, what: str) -> XdpCounters:
        assert self.last is not None, "read while not counting"
        low = self.drops()
        now = self.stats.counters(self.port)
        high = self.drops()
        self.readings += 1
        label = f"{what}, reading {self.readings}: {now.nonzero()}"
        assert not now.regressions(self.last), f"{label}: went down: {now.regressions(self.last)}"
        counted = now.drop_packets
        lower = low - self.after_enable - IN_FLIGHT
        upper = high - self.before_enable + IN_FLIGHT
        assert lower <= counted <= upper, (
            f"{label}: {counted} drops counted, the program dropped {low - self.after_enable}"
            f" to {upper} since counting was enabled"
        )
        # packets and bytes are two counters: on 64-bit, u64_stats_fetch_begin/retry
        # is no snapshot across them, and between the reader's two loads a CPU may
        # count more frames (a NAPI poll of them): during the flood, bytes are held to
        # the program's window as packets are; exact once it is over (_after_the_flood)
        frames, rest = divmod(now.drop_bytes, self.frame_len)
        assert rest == 0 and lower <= frames <= upper, (
            f"{label}: {now.drop_bytes} bytes are not whole {self.frame_len}-byte frames "
            f"within the program's {lower} to {upper} since counting was enabled"
        )
        others = now - XdpCounters.of(
            drop=(now.drop_packets, now.drop_bytes), pass_=(now.pass_packets, now.pass_bytes)
        )
        assert others == XdpCounters(), f"{label}: only drops (and stray passes) expected"
        self.last = now
        return now

    def toggle(self, times: int, what: str) -> None:
        """Off, on (sometimes twice), read; ``times`` times; ends counting."""
        for i in range(times):
            if self.last is not None:
                self.disable()
            self.enable()
            for k in range(READS_PER_TOGGLE):
                self.read(f"{what}, toggle {i}")
                if i % 3 == 1 and k == 0:
                    self.enable()  # a second enable keeps the counts


@contextmanager
def flood_of_drops(
    veth_pair: VethPair, prog: VerdictProg, stats: XdpStatsReader
) -> Iterator[tuple[Toggler, Flood]]:
    s, r = veth_pair.sender, veth_pair.receiver
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    batch = make_batch(flow, "D", 1)
    toggler = Toggler(r, prog, stats, batch.frame_len)
    with Flood(s, build_frame(flow, batch.markers[0])) as flood:
        yield toggler, flood
    assert flood.sent > 0, f"the flood sent nothing: {flood.errors}"


def _after_the_flood(
    veth_pair: VethPair, prog: VerdictProg, stats: XdpStatsReader, toggler: Toggler
) -> None:
    """Once what the flood left in veth's ring is processed, the last reading is within
    bounds, and counting, still on, is exact."""
    settle(toggler.drops, what="the program's drops after the flood")
    last = toggler.read("after the flood")
    assert last.drop_bytes == last.drop_packets * toggler.frame_len, f"after the flood: {last}"
    s, r = veth_pair.sender, veth_pair.receiver
    before = stats.counters(r)
    added = send_verdicts(s, r, prog, "drop", N)
    expect_counters(lambda: stats.counters(r) - before, added, "after the toggling")


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_toggling_under_traffic(
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    mode: XdpMode,
) -> None:
    prog = verdict_prog()
    attach(veth_pair.receiver, prog.fd, mode)
    with flood_of_drops(veth_pair, prog, stats) as (toggler, flood):
        toggler.toggle(TOGGLES, str(mode))
    # Traffic flowed while counting was switched: periods of counting saw drops.
    # How many depends on how the host schedules the flood and the toggler
    # (14 of 30 for generic XDP on a loaded 2-core TCG host): the exactness
    # checks are those of every reading and of _after_the_flood().
    assert toggler.periods_counted >= 1, (
        f"{mode}: drops were counted in {toggler.periods_counted} of {toggler.periods} "
        f"periods of counting; the flood sent {flood.sent} frames"
    )
    _after_the_flood(veth_pair, prog, stats, toggler)


def test_toggling_while_devices_and_namespaces_come_and_go(
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
) -> None:
    """The same, while a child process makes, counts on and deletes veth pairs in the
    receiver's namespace and in namespaces it creates and lets die with counting
    devices in them (xdp_stats_child's churn)."""
    prog = verdict_prog()
    r = veth_pair.receiver
    attach(r, prog.fd, XdpMode.NATIVE)
    churned: list[Outcome | BaseException] = []

    def churn() -> None:
        try:
            churned.extend(
                run(
                    Privilege.root(),
                    [Op("churn", cycles=CHURN_CYCLES, ignore=(r.ifindex,))],
                    netns=r.ns.name,
                )
            )
        except BaseException as e:  # reported below, in the test's thread
            churned.append(e)

    worker = threading.Thread(target=churn, daemon=True)
    with flood_of_drops(veth_pair, prog, stats) as (toggler, _):
        worker.start()
        while worker.is_alive():
            toggler.toggle(1, "while devices come and go")
        worker.join()
    assert len(churned) == 1, f"the churn child: {churned}"
    (outcome,) = churned
    assert isinstance(outcome, Outcome), f"the churn child failed: {outcome}"
    assert outcome.ok == {"cycles": CHURN_CYCLES, "anomalies": []}, f"the churn: {outcome}"
    assert toggler.enables > 1, f"only {toggler.enables} enables during the churn"
    _after_the_flood(veth_pair, prog, stats, toggler)
