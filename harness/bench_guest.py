"""Runs inside the guest for `harness bench`: the cost per packet of an XDP_DROP program.

Three methods, each run --runs times per configuration:

- ``test_run``: BPF_PROG_TEST_RUN through ``bpftool prog run ... repeat N``;
  the kernel reports the average duration of one repetition (whole ns).
- ``pktgen_native`` and ``pktgen_generic``: the in-kernel packet generator
  transmits --pktgen-count 64-byte frames into one end of a veth pair whose
  peer runs the program in native (xdpdrv) or generic (xdpgeneric) mode; the
  cost per packet is pktgen's elapsed time (its own ktime_get() at start and
  stop, in the pktgen thread) over the frames that reached the peer
  (rx_packets; natively, every one of them an XDP drop).

What the guest's clock measures depends on how the host boots it (--clock):
``ns`` (real time) or ``icount`` (QEMU's -icount shift=0,sleep=off: the clock
advances exactly 1 ns per guest instruction, so the same numbers are guest
instructions). pktgen's elapsed time is taken rather than a clock read around
the run: the writer of pgctrl sleeps in 100 ms steps until pktgen is done, and
under icount sleep=off the idle time after the run warps the clock forward
(``ktime_ns`` in the samples shows it).

Configurations: ``base`` (an unpatched kernel: nothing to set), ``off`` and
``on`` (the patched kernel's XDP statistics on the receiving device; how they
switch: harness.bench_xdpstats). With statistics on, the device must have
counted every drop, with them off none. Their order rotates from run to run,
so slow drift of the host does not favour one of them. Standard library only,
and import-light: it runs under TCG.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.bench_xdpstats import XDP_STATS_SYSCTL, StatsSwitch, StatsSwitchError, find_switch
from harness.markers import GUEST_DONE, GUEST_START

PKTGEN = Path("/proc/net/pktgen")
BPFFS = Path("/sys/fs/bpf")
SENDER, RECEIVER = "xbench0", "xbench1"
# Statistics per configuration: None (the base kernel: nothing to switch), off, on.
CONFIG_STATS: dict[str, bool | None] = {"base": None, "off": False, "on": True}
METHODS = ("test_run", "pktgen_native", "pktgen_generic")
ATTACH: dict[str, str | None] = {
    "test_run": None,  # BPF_PROG_TEST_RUN runs the pinned program, attached or not
    "pktgen_native": "xdpdrv",
    "pktgen_generic": "xdpgeneric",
}
UNITS = {"ns": "ns", "icount": "insn"}  # what the guest clock counts, per --clock
FRAME_SIZE = 64  # pktgen's pkt_size counts the FCS: 60 bytes reach XDP


class BenchError(Exception):
    """A measurement could not be taken; the message says which and why."""


# -- parsing (pure; unit-tested on the host) -------------------------------------------
_BPFTOOL_RUN = re.compile(r"Return value:\s*(\d+),\s*duration(?: \(average\))?:\s*(\d+)ns")


def parse_bpftool_run(text: str) -> tuple[int, int]:
    """(return value, average ns per repetition) from ``bpftool prog run`` output."""
    m = _BPFTOOL_RUN.search(text)
    if not m:
        raise BenchError(
            f"no 'Return value: R, duration (average): Nns' in bpftool output: {text!r}"
        )
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class PktgenResult:
    usec: int  # elapsed, start to stop
    sent: int
    pps: int
    errors: int


_PKTGEN_RESULT = re.compile(
    r"Result: OK: (?P<usec>\d+)\(c\d+\+d\d+\) usec, (?P<sent>\d+) \(\d+byte,-?\d+frags\)\s+"
    r"(?P<pps>\d+)pps \d+Mb/sec \(\d+bps\) errors: (?P<errors>\d+)"
)


def parse_pktgen_result(text: str) -> PktgenResult:
    """The "Result:" of /proc/net/pktgen/<dev> after a run."""
    m = _PKTGEN_RESULT.search(text)
    if not m:
        line = next((ln.strip() for ln in text.splitlines() if "Result:" in ln), "none")
        raise BenchError(f"pktgen did not report an OK result: {line}")
    return PktgenResult(int(m["usec"]), int(m["sent"]), int(m["pps"]), int(m["errors"]))


def pktgen_flags(text: str) -> set[str]:
    """The flags /proc/net/pktgen/<dev> lists ("Flags: SHARED  NO_TIMESTAMP")."""
    m = re.search(r"^\s*Flags:(.*)$", text, re.M)
    if not m:
        raise BenchError(f"no 'Flags:' line in pktgen's device file: {text[:300]!r}")
    return set(m.group(1).split())


def xdp_drops(ethtool_stats: str) -> int:
    """Sum of veth's rx_queue_<n>_xdp_drops in ``ethtool -S`` output."""
    found = re.findall(r"^\s*rx_queue_\d+_xdp_drops:\s*(\d+)\s*$", ethtool_stats, re.M)
    if not found:
        raise BenchError(f"no rx_queue_*_xdp_drops in ethtool -S output: {ethtool_stats[:300]!r}")
    return sum(int(n) for n in found)


def config_order(configs: list[str], run: int) -> list[str]:
    """The configurations of run ``run`` (0-based), rotated by it."""
    k = run % len(configs)
    return configs[k:] + configs[:k]


# -- the guest side ---------------------------------------------------------------------
@dataclass
class Sample:
    config: str
    method: str
    run: int
    ns_per_packet: float
    detail: dict[str, float | int] = field(default_factory=dict)


def _run(cmd: list[str], stdin: str | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, input=stdin, check=False)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout + proc.stderr


def _write(path: Path, text: str) -> None:
    with path.open("w") as f:
        f.write(text + "\n")


def _frame() -> bytes:
    """A 60-byte Ethernet/IPv4/UDP frame (what pktgen's 64-byte packets are, FCS aside)."""
    eth = bytes.fromhex("0200000000020200000000010800")
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 46, 0, 0, 64, 17, 0, b"\xc0\x00\x02\x01", b"\xc0\x00\x02\x02"
    )
    udp = struct.pack("!HHHH", 9, 9, 26, 0)
    return eth + ip + udp + bytes(18)


class Bench:
    def __init__(self, bpftool: str, obj: Path, workdir: Path) -> None:
        self.bpftool = bpftool
        self.obj = obj
        self.pin = BPFFS / f"xdp_bench_drop_{os.getpid()}"
        self.data = workdir / "bench-frame.bin"
        self.attached: str | None = None  # "xdpdrv" or "xdpgeneric" on RECEIVER
        self.switch: StatsSwitch | None = None

    @contextlib.contextmanager
    def setup(self) -> Iterator[None]:
        if not os.path.ismount(BPFFS):
            _run(["mount", "-t", "bpf", "bpf", str(BPFFS)])
        self.data.write_bytes(_frame())
        _run([self.bpftool, "prog", "load", str(self.obj), str(self.pin)])
        _run(["ip", "link", "add", SENDER, "type", "veth", "peer", "name", RECEIVER])
        try:
            for dev in (SENDER, RECEIVER):
                _run(["ip", "link", "set", dev, "up"])
            self._pktgen_setup()
            yield
        finally:
            with contextlib.suppress(BenchError, OSError):
                _write(PKTGEN / "kpktgend_0", "rem_device_all")
            subprocess.run(["ip", "link", "del", SENDER], check=False, capture_output=True)
            self.pin.unlink(missing_ok=True)

    def _pktgen_setup(self) -> None:
        if not (PKTGEN / "pgctrl").exists():
            raise BenchError(f"{PKTGEN}/pgctrl missing: the kernel lacks CONFIG_NET_PKTGEN")
        for thread in sorted(PKTGEN.glob("kpktgend_*")):
            _write(thread, "rem_device_all")
        _write(PKTGEN / "kpktgend_0", f"add_device {SENDER}")
        mac = Path(f"/sys/class/net/{RECEIVER}/address").read_text().strip()
        for setting in (
            f"pkt_size {FRAME_SIZE}",
            "delay 0",
            "clone_skb 0",
            "burst 1",
            # pktgen holds a reference on the skb it sends unless told not to, and
            # generic XDP expands the head of a frame short of XDP_PACKET_HEADROOM:
            # on a shared skb that is BUG_ON(skb_shared(skb)) in pskb_expand_head.
            "flag !SHARED",
            "dst 192.0.2.2",
            f"dst_mac {mac}",
        ):
            _write(PKTGEN / SENDER, setting)
        flags = pktgen_flags((PKTGEN / SENDER).read_text())
        if "SHARED" in flags:
            raise BenchError(
                f"pktgen still shares its skbs (flags {' '.join(sorted(flags))}): this "
                "kernel's pktgen lacks 'flag !SHARED', and generic XDP would crash on them"
            )

    def attach(self, mode: str | None) -> None:
        """The program on RECEIVER in ``mode`` (xdpdrv, xdpgeneric); None: leave it."""
        if mode is None or mode == self.attached:
            return
        if self.attached is not None:
            _run([self.bpftool, "net", "detach", self.attached, "dev", RECEIVER])
            self.attached = None
        _run([self.bpftool, "net", "attach", mode, "pinned", str(self.pin), "dev", RECEIVER])
        self.attached = mode

    def set_config(self, config: str) -> None:
        enabled = CONFIG_STATS[config]
        if enabled is None:
            return
        if self.switch is None:
            raise BenchError(
                f"config {config!r} needs XDP statistics to switch ({XDP_STATS_SYSCTL} or the "
                f"netdev op xdp-stats-set), which this kernel lacks"
            )
        self.switch.set(enabled)

    def test_run(self, repeat: int) -> tuple[float, dict[str, float | int]]:
        cmd = [self.bpftool, "prog", "run", "pinned", str(self.pin)]
        cmd += ["data_in", str(self.data), "repeat", str(repeat)]
        start = time.monotonic()
        retval, ns = parse_bpftool_run(_run(cmd))
        wall = time.monotonic() - start
        if retval != 1:
            raise BenchError(f"the program returned {retval} under test_run, not XDP_DROP (1)")
        return float(ns), {"repeat": repeat, "wall_seconds": round(wall, 3)}

    def _counters(self) -> Counters:
        native = xdp_drops(_run(["ethtool", "-S", RECEIVER])) if self.attached == "xdpdrv" else 0
        rx = int(Path(f"/sys/class/net/{RECEIVER}/statistics/rx_packets").read_text())
        counted = self.switch.drops() if self.switch is not None else None
        return Counters(rx, native, counted)

    def pktgen(self, count: int) -> tuple[float, dict[str, float | int]]:
        _write(PKTGEN / SENDER, f"count {count}")
        before = self._counters()
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        _write(PKTGEN / "pgctrl", "start")  # returns when pktgen is done
        ktime_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - t0
        res = parse_pktgen_result((PKTGEN / SENDER).read_text())
        got = self._counters() - before
        packets = got.check(self.attached == "xdpdrv")
        detail: dict[str, float | int] = {
            "count": count,
            "sent": res.sent,
            "rx_packets": packets,
            "usec": res.usec,
            "ktime_ns": ktime_ns,
            "pps": res.pps,
            "errors": res.errors,
        }
        if self.attached == "xdpdrv":
            detail["xdp_dropped"] = got.native_drops
        if got.counted is not None:
            detail["stats_drop_packets"] = got.counted
        return res.usec * 1000.0 / packets, detail

    def measure(self, method: str, repeat: int, count: int) -> tuple[float, dict[str, float | int]]:
        self.attach(ATTACH[method])
        return self.test_run(repeat) if method == "test_run" else self.pktgen(count)

    def check_counting(self, config: str, method: str, detail: Mapping[str, float | int]) -> None:
        """With statistics on, the receiving device counted every drop; off, none."""
        if method == "test_run" or CONFIG_STATS[config] is None:
            return
        counted = int(detail.get("stats_drop_packets", 0))
        packets = int(detail["rx_packets"])
        if CONFIG_STATS[config] and counted != packets:
            raise BenchError(
                f"{config}: XDP statistics on, but {RECEIVER} counted {counted} of {packets} "
                f"drops ({method})"
            )
        if not CONFIG_STATS[config] and counted:
            raise BenchError(f"{config}: XDP statistics off, but {RECEIVER} counted {counted}")


@dataclass(frozen=True)
class Counters:
    """What the receiving device counted: rx_packets (every frame that reached it,
    native XDP or not), veth's native XDP drops, the series' drop-packets (None when
    the device has no counters)."""

    rx_packets: int
    native_drops: int
    counted: int | None

    def __sub__(self, before: Counters) -> Counters:
        counted = None
        if self.counted is not None:
            counted = self.counted - (before.counted or 0)
        return Counters(
            self.rx_packets - before.rx_packets, self.native_drops - before.native_drops, counted
        )

    def check(self, native: bool) -> int:
        """The frames that met the program (a difference of two readings)."""
        if self.rx_packets <= 0:
            raise BenchError("pktgen ran, but no frame reached the receiving veth")
        if native and self.native_drops != self.rx_packets:
            raise BenchError(
                f"{self.rx_packets} frames reached {RECEIVER}, its native XDP program dropped "
                f"{self.native_drops}"
            )
        return self.rx_packets


def guest_facts() -> dict[str, object]:
    """What the measurements depend on: the clock source the kernel times with, the
    CPU the guest sees (under icount shift=0 the TSC runs at 1000 MHz)."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, re.M)
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    clocksource = Path("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    return {
        "kernel_release": platform.release(),
        "cpus": os.cpu_count(),
        "clocksource": clocksource.read_text().strip(),
        "cpu_mhz": float(mhz.group(1)) if mhz else None,
        "cpu_model": model.group(1).strip() if model else None,
    }


def run_bench(args: argparse.Namespace) -> dict[str, object]:
    bench = Bench(args.bpftool, args.obj, Path(tempfile.gettempdir()))
    unit = UNITS[args.clock]
    samples: list[Sample] = []
    with bench.setup():
        if any(CONFIG_STATS[c] is not None for c in args.config):
            bench.switch = find_switch(args.kernel_tree, RECEIVER)
        # Warm up (TCG translates code on first use; the guest grows its caches).
        for method in METHODS:
            for config in args.config:
                bench.set_config(config)
                bench.measure(method, max(args.repeat // 10, 1), max(args.pktgen_count // 10, 1))
        for run in range(args.runs):
            for method in METHODS:
                for config in config_order(args.config, run):
                    bench.set_config(config)
                    ns, detail = bench.measure(method, args.repeat, args.pktgen_count)
                    bench.check_counting(config, method, detail)
                    samples.append(Sample(config, method, run + 1, round(ns, 3), detail))
                    print(
                        f"bench: run {run + 1} {config:4} {method:14} {ns:10.1f} {unit}/packet",
                        flush=True,
                    )
        if bench.switch is not None:
            bench.set_config("off")
    return {
        **guest_facts(),
        "clock": args.clock,
        "xdp_stats_switch": bench.switch.kind if bench.switch else None,
        "xdp_stats_switch_detail": bench.switch.description if bench.switch else None,
        "samples": [asdict(s) for s in samples],
    }


def main(argv: list[str] | None = None) -> int:
    print(GUEST_START, flush=True)
    p = argparse.ArgumentParser(prog="python -m harness.bench_guest")
    p.add_argument("--out", type=Path, required=True, help="where the samples go (JSON)")
    p.add_argument("--bpftool", required=True)
    p.add_argument("--obj", type=Path, required=True, help="the XDP_DROP program's object")
    p.add_argument("--config", action="append", choices=sorted(CONFIG_STATS), required=True)
    p.add_argument("--kernel-tree", type=Path, help="its ynl library and netdev spec")
    p.add_argument("--clock", choices=sorted(UNITS), default="ns", help="how the guest runs")
    # how much to measure: the host passes its --runs, --repeat and --pktgen-count
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--repeat", type=int, required=True)
    p.add_argument("--pktgen-count", type=int, required=True)
    args = p.parse_args(argv)
    rc = 0
    try:
        data = run_bench(args)
    except (BenchError, StatsSwitchError, OSError) as exc:
        print(f"bench: error: {exc}", flush=True)
        data = {"error": str(exc)}
        rc = 1
    args.out.write_text(json.dumps(data, indent=2))
    print(f"{GUEST_DONE}{rc}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
