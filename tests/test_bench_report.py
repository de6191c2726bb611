"""`harness bench` statistics, table and plot, from samples (no VM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import bench_report
from harness.bench_report import Row, render_table, summarize


def _samples(method: str, config: str, values: list[float]) -> list[dict[str, object]]:
    return [
        {"method": method, "config": config, "run": i + 1, "ns_per_packet": v}
        for i, v in enumerate(values)
    ]


SAMPLES = [
    *_samples("pktgen", "on", [9000.0, 9300.0, 8800.0]),
    *_samples("test_run", "base", [80.0, 76.0, 146.0, 79.0]),
    *_samples("test_run", "off", [81.0, 80.0, 82.0]),
    *_samples("test_run", "on", [100.0, 96.0, 104.0]),
    *_samples("pktgen", "base", [8000.0, 8400.0, 8200.0]),
    *_samples("pktgen", "off", [8100.0, 8300.0, 8500.0]),
]


def test_summary_rows_ordered_with_ratios_to_base() -> None:
    rows = summarize(SAMPLES)
    assert [(r.method, r.config) for r in rows] == [
        ("test_run", "base"),
        ("test_run", "off"),
        ("test_run", "on"),
        ("pktgen", "base"),
        ("pktgen", "off"),
        ("pktgen", "on"),
    ]
    base = rows[0]
    assert (base.runs, base.min, base.median, base.max, base.ratio) == (4, 76.0, 79.5, 146.0, 1.0)
    assert base.min_ratio == 1.0
    on = rows[2]
    assert (on.min, on.median, on.max) == (96.0, 100.0, 104.0)
    assert on.ratio == pytest.approx(100.0 / 79.5)
    assert on.min_ratio == pytest.approx(96.0 / 76.0)
    assert rows[5].ratio == pytest.approx(9000.0 / 8200.0)


def test_no_base_no_ratio() -> None:
    (row,) = summarize(_samples("test_run", "on", [10.0, 30.0]))
    assert row == Row("test_run", "on", 2, 10.0, 20.0, 30.0, None, None)


def test_sample_without_number_is_an_error() -> None:
    with pytest.raises(ValueError, match="without a number"):
        summarize([{"method": "pktgen", "config": "on", "ns_per_packet": None}])


def test_table() -> None:
    text = render_table(summarize(SAMPLES), ["# title", "Guest accelerator: TCG."])
    lines = text.splitlines()
    assert lines[:3] == ["# title", "Guest accelerator: TCG.", ""]
    assert lines[3] == (
        "| method | configuration | runs | min ns | median ns | max ns | median vs base "
        "| min vs base |"
    )
    assert (
        "| BPF_PROG_TEST_RUN (bpftool prog run, repeat) | patched, xdp_stats=1 | 3 | 96.0 "
        "| 100.0 | 104.0 | 1.258 | 1.263 |" in lines
    )
    assert "| base (unpatched) | 3 | 8000.0 | 8200.0 | 8400.0 | 1.000 | 1.000 |" in text
    assert render_table([Row("pktgen", "on", 1, 1.0, 1.0, 1.0, None)]).endswith("| n/a | n/a |\n")


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
