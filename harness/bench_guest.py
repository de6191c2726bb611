"""Runs inside the guest for `harness bench`: ns per packet of an XDP_DROP program.

Two methods, each run --runs times per configuration:

- ``test_run``: BPF_PROG_TEST_RUN through ``bpftool prog run ... repeat N``;
  the kernel reports the average duration of one repetition.
- ``pktgen``: the in-kernel packet generator transmits --pktgen-count
  64-byte frames into one end of a veth pair whose peer runs the program in
  native mode; ns/packet is pktgen's elapsed time over the frames the
  program dropped (veth's rx_queue_*_xdp_drops), which pktgen's own pps
  cross-checks.

Configurations: ``base`` (an unpatched kernel: nothing to set), ``off`` and
``on`` (net.core.xdp_stats = 0 or 1). Their order rotates from run to run, so
slow drift of the host does not favour one of them. Standard library only,
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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.markers import GUEST_DONE, GUEST_START

XDP_STATS_SYSCTL = Path("/proc/sys/net/core/xdp_stats")
PKTGEN = Path("/proc/net/pktgen")
BPFFS = Path("/sys/fs/bpf")
SENDER, RECEIVER = "xbench0", "xbench1"
CONFIG_SYSCTL = {"base": None, "off": 0, "on": 1}
METHODS = ("test_run", "pktgen")
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
    r"Result: OK: (?P<usec>\d+)\(c\d+\+d\d+\) usec, (?P<sent>\d+) \(\d+byte,\d+frags\)\s+"
    r"(?P<pps>\d+)pps \d+Mb/sec \(\d+bps\) errors: (?P<errors>\d+)"
)


def parse_pktgen_result(text: str) -> PktgenResult:
    """The "Result:" of /proc/net/pktgen/<dev> after a run."""
    m = _PKTGEN_RESULT.search(text)
    if not m:
        line = next((ln.strip() for ln in text.splitlines() if "Result:" in ln), "none")
        raise BenchError(f"pktgen did not report an OK result: {line}")
    return PktgenResult(int(m["usec"]), int(m["sent"]), int(m["pps"]), int(m["errors"]))


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
            _run(
                [self.bpftool, "net", "attach", "xdpdrv", "pinned", str(self.pin), "dev", RECEIVER]
            )
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
            "dst 192.0.2.2",
            f"dst_mac {mac}",
        ):
            _write(PKTGEN / SENDER, setting)

    def set_config(self, config: str) -> None:
        value = CONFIG_SYSCTL[config]
        if value is None:
            return
        if not XDP_STATS_SYSCTL.exists():
            raise BenchError(f"config {config!r} needs {XDP_STATS_SYSCTL}, which this kernel lacks")
        _write(XDP_STATS_SYSCTL, str(value))
        now = int(XDP_STATS_SYSCTL.read_text())
        if now != value:
            raise BenchError(f"{XDP_STATS_SYSCTL} reads {now} after writing {value}")

    def test_run(self, repeat: int) -> tuple[float, dict[str, float | int]]:
        cmd = [self.bpftool, "prog", "run", "pinned", str(self.pin)]
        cmd += ["data_in", str(self.data), "repeat", str(repeat)]
        start = time.monotonic()
        retval, ns = parse_bpftool_run(_run(cmd))
        wall = time.monotonic() - start
        if retval != 1:
            raise BenchError(f"the program returned {retval} under test_run, not XDP_DROP (1)")
        return float(ns), {"repeat": repeat, "wall_seconds": round(wall, 3)}

    def pktgen(self, count: int) -> tuple[float, dict[str, float | int]]:
        _write(PKTGEN / SENDER, f"count {count}")
        before = xdp_drops(_run(["ethtool", "-S", RECEIVER]))
        _write(PKTGEN / "pgctrl", "start")  # returns when pktgen is done
        res = parse_pktgen_result((PKTGEN / SENDER).read_text())
        dropped = xdp_drops(_run(["ethtool", "-S", RECEIVER])) - before
        if dropped <= 0:
            raise BenchError(f"pktgen sent {res.sent} frames, the XDP program dropped none")
        ns = res.usec * 1000.0 / dropped
        detail: dict[str, float | int] = {
            "count": count,
            "sent": res.sent,
            "xdp_dropped": dropped,
            "usec": res.usec,
            "pps": res.pps,
            "errors": res.errors,
        }
        return ns, detail

    def measure(self, method: str, repeat: int, count: int) -> tuple[float, dict[str, float | int]]:
        return self.test_run(repeat) if method == "test_run" else self.pktgen(count)


def run_bench(args: argparse.Namespace) -> dict[str, object]:
    bench = Bench(args.bpftool, args.obj, Path(tempfile.gettempdir()))
    samples: list[Sample] = []
    with bench.setup():
        # Warm up (TCG translates code on first use), not recorded.
        for config in args.config:
            bench.set_config(config)
            for method in METHODS:
                bench.measure(method, max(args.repeat // 10, 1), max(args.pktgen_count // 10, 1))
        for run in range(args.runs):
            for config in config_order(args.config, run):
                bench.set_config(config)
                for method in METHODS:
                    ns, detail = bench.measure(method, args.repeat, args.pktgen_count)
                    samples.append(Sample(config, method, run + 1, round(ns, 3), detail))
                    print(
                        f"bench: run {run + 1} {config:4} {method:8} {ns:10.1f} ns/packet",
                        flush=True,
                    )
        if XDP_STATS_SYSCTL.exists():
            bench.set_config("off")
    return {
        "kernel_release": platform.release(),
        "cpus": os.cpu_count(),
        "xdp_stats_sysctl": XDP_STATS_SYSCTL.exists(),
        "samples": [asdict(s) for s in samples],
    }


def main(argv: list[str] | None = None) -> int:
    print(GUEST_START, flush=True)
    p = argparse.ArgumentParser(prog="python -m harness.bench_guest")
    p.add_argument("--out", type=Path, required=True, help="where the samples go (JSON)")
    p.add_argument("--bpftool", required=True)
    p.add_argument("--obj", type=Path, required=True, help="the XDP_DROP program's object")
    p.add_argument("--config", action="append", choices=sorted(CONFIG_SYSCTL), required=True)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--repeat", type=int, default=5_000_000)
    p.add_argument("--pktgen-count", type=int, default=200_000)
    args = p.parse_args(argv)
    rc = 0
    try:
        data = run_bench(args)
    except (BenchError, OSError) as exc:
        print(f"bench: error: {exc}", flush=True)
        data = {"error": str(exc)}
        rc = 1
    args.out.write_text(json.dumps(data, indent=2))
    print(f"{GUEST_DONE}{rc}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
