"""Turning counting on and off many times while traffic flows, and while devices and
namespaces come and go: no splat (the harness fails the run on any), counters
that never go backwards, and every device counted once counting is on.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable

from xdplib.netns import NetNS, Port, inside
from xdplib.topology import VethPair
from xdplib.traffic import SILENCE_TIMEOUT, Flow, build_frame, exchange_split
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import XdpCounters, XdpStatsReader, XdpStatsSysctl
from xscommon import SELECTOR, VerdictProg, make_batch, mismatch, wait_for_counters

TOGGLES = 40
FLOOD_SECONDS_MAX = 120.0
CHURN_TOGGLES = 20
N = 16
AttachFn = Callable[[Port, int, XdpMode], int]


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


def test_toggling_under_traffic(
    sysctl: XdpStatsSysctl,
    veth_pair: VethPair,
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    prog = verdict_prog()
    attach(r, prog.fd, XdpMode.NATIVE)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    sysctl.write(1)
    start = prev = stats.counters(r)
    tally_start = prog.tally()
    readings = 0

    with Flood(s, build_frame(flow, make_batch(flow, SELECTOR["drop"], 1).markers[0])) as flood:
        for i in range(TOGGLES):
            sysctl.write(i % 2)  # ends on 1
            now = stats.counters(r)
            readings += 1
            assert not now.regressions(prev), (
                f"toggle {i}: counters went backwards: {now.regressions(prev)}"
            )
            prev = now
            time.sleep(0.02)
    assert flood.sent > 0, f"the flood sent nothing: {flood.errors}"
    time.sleep(SILENCE_TIMEOUT)  # what the flood left in veth's ring is processed

    tally = prog.tally() - tally_start
    counted = stats.counters(r) - start
    assert 0 < counted.drop_packets <= tally.crafted.drop_packets, (
        f"{readings} readings, {flood.sent} frames sent: counted {counted.drop_packets} drops, "
        f"the program dropped {tally.crafted.drop_packets}; counted must be in (0, dropped]"
    )
    # Counting on (the last write was 1) still counts exactly.
    batch = make_batch(flow, SELECTOR["drop"], N)
    before, tally_before = stats.counters(r), prog.tally()
    exchange_split(s, flow, batch.markers, {r: []})
    expected = (prog.tally() - tally_before).as_counted()
    assert expected.drop_packets == N, f"the program's tally after the flood: {expected}"
    now = wait_for_counters(lambda: stats.counters(r) - before, expected)
    assert now == expected, mismatch("after the toggling", expected, now)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=60)


def test_toggling_while_devices_come_and_go(
    sysctl: XdpStatsSysctl, make_netns: Callable[[], NetNS], stats: XdpStatsReader
) -> None:
    ns = make_netns()
    stop = threading.Event()
    errors: list[str] = []
    cycles = 0

    def churn() -> None:
        nonlocal cycles
        extra = f"{ns.name}-x"
        while not stop.is_set():
            try:
                _ip("-n", ns.name, "link", "add", "xsc0", "type", "veth", "peer", "name", "xsc1")
                _ip("netns", "add", extra)
                _ip("-n", ns.name, "link", "del", "xsc0")
                _ip("netns", "del", extra)
                cycles += 1
            except subprocess.SubprocessError as e:
                errors.append(str(e))
                return

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    try:
        for i in range(CHURN_TOGGLES):
            sysctl.write((i + 1) % 2)  # ends on 0
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(timeout=120)
    assert not worker.is_alive(), "the device churn did not stop"
    assert not errors, f"creating/deleting devices failed: {errors}"
    assert cycles > 0, "no device came or went while toggling"

    sysctl.write(1)
    _ip("-n", ns.name, "link", "add", "xsl0", "type", "veth", "peer", "name", "xsl1")
    fresh = make_netns()
    for where in (ns, fresh):
        dumped = stats.dump(where)
        missing = [i for i, st in dumped.items() if st.counters is None]
        assert not missing, f"counting is on, yet ifindexes {missing} of {where.name} have none"
        assert all(st.counters == XdpCounters() for st in dumped.values()), (
            f"no XDP ran on {where.name}'s devices: {dumped}"
        )
