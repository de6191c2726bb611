"""`harness bench` results: per configuration and method, min/median/max ns per
packet and the ratio to the unpatched base; a Markdown table, JSON and a plot."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

METHOD_TITLES = {
    "test_run": "BPF_PROG_TEST_RUN (bpftool prog run, repeat)",
    "pktgen": "pktgen into veth, native XDP_DROP on the peer",
}
CONFIG_ORDER = ("base", "off", "on")
CONFIG_TITLES = {
    "base": "base (unpatched)",
    "off": "patched, xdp_stats=0",
    "on": "patched, xdp_stats=1",
}


@dataclass(frozen=True)
class Row:
    method: str
    config: str
    runs: int
    min: float
    median: float
    max: float
    ratio: float | None  # median over the base's median; None without a base
    min_ratio: float | None = None  # min over the base's min: the least disturbed runs


def summarize(samples: Iterable[Mapping[str, object]]) -> list[Row]:
    """Rows in method, then configuration order, from samples with ``method``,
    ``config`` and ``ns_per_packet``."""
    groups: dict[tuple[str, str], list[float]] = {}
    for s in samples:
        value = s["ns_per_packet"]
        if not isinstance(value, int | float):
            raise ValueError(f"sample without a number: {dict(s)}")
        groups.setdefault((str(s["method"]), str(s["config"])), []).append(float(value))
    methods = [m for m in METHOD_TITLES if any(k[0] == m for k in groups)]
    methods += sorted({k[0] for k in groups} - set(methods))
    rows = []
    for method in methods:
        base = groups.get((method, "base"))
        base_median = statistics.median(base) if base else None
        base_min = min(base) if base else None
        configs = [c for c in CONFIG_ORDER if (method, c) in groups]
        configs += sorted({k[1] for k in groups if k[0] == method} - set(configs))
        for config in configs:
            values = groups[(method, config)]
            median = statistics.median(values)
            rows.append(
                Row(
                    method=method,
                    config=config,
                    runs=len(values),
                    min=min(values),
                    median=median,
                    max=max(values),
                    ratio=median / base_median if base_median else None,
                    min_ratio=min(values) / base_min if base_min else None,
                )
            )
    return rows


def render_table(rows: Sequence[Row], header: Sequence[str] = ()) -> str:
    """A Markdown table (readable as text too), preceded by ``header`` lines."""
    lines = [*header, ""] if header else []
    lines.append(
        "| method | configuration | runs | min ns | median ns | max ns | median vs base "
        "| min vs base |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = f"{r.ratio:.3f}" if r.ratio is not None else "n/a"
        min_ratio = f"{r.min_ratio:.3f}" if r.min_ratio is not None else "n/a"
        lines.append(
            f"| {METHOD_TITLES.get(r.method, r.method)} | {CONFIG_TITLES.get(r.config, r.config)}"
            f" | {r.runs} | {r.min:.1f} | {r.median:.1f} | {r.max:.1f} | {ratio} | {min_ratio} |"
        )
    return "\n".join(lines) + "\n"


def accel_line(accel: Mapping[str, object]) -> str:
    kind = str(accel.get("accel", "?")).upper()
    reason = accel.get("reason", "")
    if kind == "KVM":
        return f"Guest accelerator: KVM ({reason})."
    return (
        f"Guest accelerator: {kind} ({reason}): an emulated CPU; absolute numbers say little, "
        "only the ratios to base mean anything."
    )


def plot(
    rows: Sequence[Row], samples: Iterable[Mapping[str, object]], path: Path, title: str
) -> None:
    """One panel per method: every run as a dot, the median as a bar, min-max as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r.method for r in rows))
    fig, axes = plt.subplots(1, len(methods), figsize=(5.5 * len(methods), 4.5), squeeze=False)
    points: dict[tuple[str, str], list[float]] = {}
    for s in samples:
        points.setdefault((str(s["method"]), str(s["config"])), []).append(
            float(s["ns_per_packet"])  # type: ignore[arg-type]
        )
    colors = {"base": "#7f7f7f", "off": "#1f77b4", "on": "#d62728"}
    for ax, method in zip(axes[0], methods, strict=True):
        mrows = [r for r in rows if r.method == method]
        xs = range(len(mrows))
        ax.bar(
            xs,
            [r.median for r in mrows],
            color=[colors.get(r.config, "#2ca02c") for r in mrows],
            alpha=0.45,
        )
        for x, r in zip(xs, mrows, strict=True):
            ax.vlines(x, r.min, r.max, color="black", linewidth=1)
            vals = points.get((method, r.config), [])
            ax.scatter([x] * len(vals), vals, color="black", s=12, zorder=3)
            label = f"{r.median:.1f}"
            if r.ratio is not None:
                label += f"\n\N{MULTIPLICATION SIGN}{r.ratio:.3f}"
            ax.annotate(
                label,
                (x, r.max),
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(
            list(xs),
            [CONFIG_TITLES.get(r.config, r.config) for r in mrows],
            rotation=12,
            fontsize=8,
        )
        ax.set_ylabel("ns per packet")
        ax.set_title(METHOD_TITLES.get(method, method), fontsize=9)
        ax.set_ylim(0, max(r.max for r in mrows) * 1.25)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
