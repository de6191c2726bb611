"""The guest side of `harness bench`: what it reads from bpftool, pktgen, ethtool and
the receiving veth's counters."""

from __future__ import annotations

import pytest

from harness.bench_guest import (
    ATTACH,
    METHODS,
    BenchError,
    Counters,
    PktgenResult,
    config_order,
    parse_bpftool_run,
    parse_pktgen_result,
    pktgen_flags,
    xdp_drops,
)

# /proc/net/pktgen/<dev> after a run (6.12, abridged in the middle).
PKTGEN_DONE = """\
Params: count 200000  min_pkt_size: 64  max_pkt_size: 64
     frags: 0  delay: 0  clone_skb: 0  ifname: xbench0
     flows: 0 flowlen: 0
Current:
     pkts-sofar: 200000  errors: 0
     started: 9142672216us  stopped: 9143801546us idle: 238us
     seq_num: 200001  cur_dst_mac_offset: 0  cur_src_mac_offset: 0
Result: OK: 1129330(c1129092+d238) usec, 200000 (64byte,0frags)
  177096pps 90Mb/sec (90673152bps) errors: 0
"""

ETHTOOL_S = """\
NIC statistics:
     peer_ifindex: 3
     rx_queue_0_xdp_packets: 200000
     rx_queue_0_xdp_bytes: 10000000
     rx_queue_0_drops: 0
     rx_queue_0_xdp_drops: 199990
     rx_queue_1_xdp_drops: 10
     tx_queue_0_xdp_xmit: 0
"""


def test_bpftool_prog_run() -> None:
    assert parse_bpftool_run("Return value: 1, duration (average): 86ns\n") == (1, 86)
    # bpftool without repeat prints "duration" alone in some versions
    assert parse_bpftool_run("Return value: 2, duration: 1234ns") == (2, 1234)


def test_bpftool_prog_run_garbage() -> None:
    with pytest.raises(BenchError, match="no 'Return value"):
        parse_bpftool_run("Error: failed to run program: Operation not permitted\n")


def test_pktgen_result() -> None:
    assert parse_pktgen_result(PKTGEN_DONE) == PktgenResult(
        usec=1129330, sent=200000, pps=177096, errors=0
    )


def test_pktgen_result_of_unshared_skbs() -> None:
    # with "flag !SHARED" 6.12 prints the frags of a freed skb as -1
    text = "Result: OK: 141285(c141285+d0) usec, 50000 (64byte,-1frags)\n  353894pps 181Mb/sec "
    text += "(181193728bps) errors: 0\n"
    assert parse_pktgen_result(text) == PktgenResult(141285, 50000, 353894, 0)


def test_pktgen_flags() -> None:
    shown = PKTGEN_DONE.replace(
        "     flows: 0", "     Flags: SHARED  NO_TIMESTAMP  \n     flows: 0"
    )
    assert pktgen_flags(shown) == {
        "SHARED",
        "NO_TIMESTAMP",
    }
    assert pktgen_flags("     Flags: \n") == set()
    with pytest.raises(BenchError, match="no 'Flags:'"):
        pktgen_flags(PKTGEN_DONE)


def test_pktgen_result_not_ok() -> None:
    with pytest.raises(BenchError, match="Result: Idle"):
        parse_pktgen_result("Params: count 10\nResult: Idle\n")


def test_ethtool_xdp_drops_summed_over_queues() -> None:
    assert xdp_drops(ETHTOOL_S) == 200000


def test_ethtool_without_xdp_counters() -> None:
    with pytest.raises(BenchError, match="rx_queue"):
        xdp_drops("NIC statistics:\n     peer_ifindex: 3\n")


def test_config_order_rotates() -> None:
    configs = ["off", "on"]
    assert [config_order(configs, r) for r in range(3)] == [
        ["off", "on"],
        ["on", "off"],
        ["off", "on"],
    ]
    assert config_order(["base"], 4) == ["base"]


def test_methods_attach_native_and_generic() -> None:
    assert METHODS == ("test_run", "pktgen_native", "pktgen_generic")
    assert [ATTACH[m] for m in METHODS] == [None, "xdpdrv", "xdpgeneric"]


def test_counters_difference_and_check() -> None:
    before, after = Counters(100, 40, None), Counters(50_100, 50_040, 50_000)
    got = after - before
    assert got == Counters(50_000, 50_000, 50_000)
    assert got.check(native=True) == 50_000
    # generic XDP: veth's native counters do not move; rx_packets counts the frames
    assert Counters(50_000, 0, None).check(native=False) == 50_000
    # counters that appear during the run (v2: enabled just before) start from zero
    assert (Counters(9, 0, 7) - Counters(1, 0, None)).counted == 7


def test_counters_catch_frames_the_program_did_not_drop() -> None:
    with pytest.raises(BenchError, match="dropped 49990"):
        Counters(50_000, 49_990, None).check(native=True)
    with pytest.raises(BenchError, match="no frame reached"):
        Counters(0, 0, None).check(native=False)
