"""`harness bench` statistics, differences, table and plot, from samples (no VM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import bench_report
from harness.bench_report import Delta, Row, deltas, render_table, summarize

X = "\N{MULTIPLICATION SIGN}"


def _samples(clock: str, method: str, config: str, values: list[float]) -> list[dict[str, object]]:
    return [
        {"clock": clock, "method": method, "config": config, "run": i + 1, "ns_per_packet": v}
        for i, v in enumerate(values)
    ]


SAMPLES = [
    *_samples("ns", "pktgen_native", "on", [9000.0, 9300.0, 8800.0]),
    *_samples("icount", "pktgen_native", "on", [2841.0, 2840.6, 2842.0]),
    *_samples("icount", "test_run", "base", [79.0, 79.0, 79.0]),
    *_samples("icount", "test_run", "off", [80.0, 80.0, 80.0]),
    *_samples("icount", "test_run", "on", [80.0, 80.0, 81.0]),
    *_samples("icount", "pktgen_native", "base", [2825.7, 2825.1, 2825.4]),
    *_samples("icount", "pktgen_native", "off", [2826.0, 2826.4, 2826.2]),
    *_samples("ns", "test_run", "base", [80.0, 76.0, 146.0, 79.0]),
    *_samples("ns", "test_run", "on", [100.0, 96.0, 104.0]),
    *_samples("ns", "pktgen_native", "base", [8000.0, 8400.0, 8200.0]),
    *_samples("ns", "pktgen_native", "off", [8100.0, 8300.0, 8500.0]),
]


def test_rows_ordered_by_clock_method_config() -> None:
    rows = summarize(SAMPLES)
    assert [(r.clock, r.method, r.config) for r in rows] == [
        ("icount", "test_run", "base"),
        ("icount", "test_run", "off"),
        ("icount", "test_run", "on"),
        ("icount", "pktgen_native", "base"),
        ("icount", "pktgen_native", "off"),
        ("icount", "pktgen_native", "on"),
        ("ns", "test_run", "base"),
        ("ns", "test_run", "on"),
        ("ns", "pktgen_native", "base"),
        ("ns", "pktgen_native", "off"),
        ("ns", "pktgen_native", "on"),
    ]
    assert rows[3] == Row("icount", "pktgen_native", "base", 3, 2825.1, 2825.4, 2825.7)
    assert rows[6] == Row("ns", "test_run", "base", 4, 76.0, 79.5, 146.0)


def test_deltas_are_of_the_medians() -> None:
    found = {(d.clock, d.method, d.config, d.against): d for d in deltas(summarize(SAMPLES))}
    on_base = found[("icount", "pktgen_native", "on", "base")]
    assert on_base.delta == pytest.approx(2841.0 - 2825.4)
    assert on_base.ratio == pytest.approx(2841.0 / 2825.4)
    assert found[("icount", "pktgen_native", "on", "off")].delta == pytest.approx(2841.0 - 2826.2)
    assert found[("icount", "test_run", "off", "base")].delta == 1.0
    assert found[("ns", "test_run", "on", "base")].ratio == pytest.approx(100.0 / 79.5)
    # no "off" measured for ns test_run: neither off-base nor on-off
    assert ("ns", "test_run", "off", "base") not in found
    assert ("ns", "test_run", "on", "off") not in found
    assert len(found) == 10


def test_no_base_no_delta() -> None:
    rows = summarize(_samples("icount", "test_run", "on", [10.0, 30.0]))
    assert rows == [Row("icount", "test_run", "on", 2, 10.0, 20.0, 30.0)]
    assert deltas(rows) == []


def test_sample_without_number_is_an_error() -> None:
    with pytest.raises(ValueError, match="without a number"):
        summarize([{"method": "pktgen_native", "config": "on", "ns_per_packet": None}])


def test_table_instructions_next_to_ns() -> None:
    text = render_table(summarize(SAMPLES), ["# title", "insn: icount."])
    lines = text.splitlines()
    assert lines[:3] == ["# title", "insn: icount.", ""]
    assert lines[3] == (
        "| method | configuration | runs | insn/packet (median) | insn min … max | insn vs base "
        "| insn vs off | ns/packet (median) | ns min … max | ns vs base | ns vs off |"
    )
    assert lines[4] == "|---|---|---:|" + "|".join(["---:"] * 8) + "|"
    native = "pktgen into veth, native XDP_DROP on the peer"
    assert (
        f"| {native} | base (unpatched) | 3 | 2825.4 | 2825.1 … 2825.7 |  |  "
        "| 8200.0 | 8000.0 … 8400.0 |  |  |" in lines
    )
    assert (
        f"| {native} | patched, statistics on | 3 | 2841.0 | 2840.6 … 2842.0 "
        "| +15.6 (+0.55 %) | +14.8 (+0.52 %) | 9000.0 | 8800.0 … 9300.0 "
        f"| {X}1.098 | {X}1.084 |"
    ) in lines
    # a configuration measured with one clock only leaves the other's cells empty
    run = "BPF_PROG_TEST_RUN (bpftool prog run, repeat)"
    assert (
        f"| {run} | patched, statistics off | 3 | 80.0 | 80.0 … 80.0 | +1.0 (+1.27 %) |  "
        "|  |  |  |  |" in lines
    )
    assert len(lines) == 5 + 6


def test_table_with_one_clock() -> None:
    text = render_table(summarize(_samples("icount", "pktgen_generic", "base", [2498.1, 2498.4])))
    assert text.splitlines()[0].count("insn") == 4 and "ns/packet" not in text
    assert (
        "| pktgen into veth, generic XDP_DROP on the peer | base (unpatched) | 2 | 2498.2 " in text
    )


def test_delta_formats() -> None:
    assert bench_report._fmt_delta(Delta("icount", "m", "on", "base", -2.0, 0.99)) == (
        "-2.0 (-1.00 %)"
    )
    assert (
        bench_report._fmt_delta(Delta("ns", "m", "on", "base", 10.0, 1.1))
        == "\N{MULTIPLICATION SIGN}1.100"
    )


def test_accel_line_says_tcg_numbers_are_only_ratios() -> None:
    tcg = bench_report.accel_line({"accel": "tcg", "reason": "KVM probe failed"})
    assert tcg.startswith("Guest accelerator: TCG (KVM probe failed)")
    assert "only the ratios" in tcg
    kvm = bench_report.accel_line({"accel": "kvm", "reason": "probe boot took 3.0s"})
    assert kvm == "Guest accelerator: KVM (probe boot took 3.0s)."


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "bench.png"
    bench_report.plot(summarize(SAMPLES), SAMPLES, out, "title")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


AGAINST = [
    *_samples("icount", "pktgen_native", "base-off", [2826.0, 2826.0, 2826.0]),
    *_samples("icount", "pktgen_native", "base-on", [2850.0, 2850.0, 2850.0]),
    *_samples("icount", "pktgen_native", "off", [2826.5, 2826.5, 2826.5]),
    *_samples("icount", "pktgen_native", "on", [2850.0, 2851.0, 2852.0]),
]


def test_against_series_compares_setting_for_setting() -> None:
    rows = summarize(AGAINST)
    assert [r.config for r in rows] == ["base-off", "base-on", "off", "on"]
    found = {(d.config, d.against): d.delta for d in deltas(rows)}
    assert found == {
        ("off", "base-off"): 0.5,
        ("on", "base-on"): 1.0,
        ("on", "off"): pytest.approx(2851.0 - 2826.5),
        ("base-on", "base-off"): 24.0,
    }
    table = render_table(rows)
    on = next(line for line in table.splitlines() if "patched, statistics on" in line)
    assert on.split(" | ")[-2:] == ["+1.0 (+0.04 %)", "+24.5 (+0.87 %) |"]
    base_on = next(line for line in table.splitlines() if "(--against), statistics on" in line)
    assert base_on.split(" | ")[-2:] == ["", "+24.0 (+0.85 %) |"]
