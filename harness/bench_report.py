"""`harness bench` results: per clock, method and configuration, min/median/max
per packet; the differences between configurations; a Markdown table and a plot.

Two clocks: ``icount`` (the guest ran under QEMU's -icount shift=0: its
nanoseconds are guest instructions) and ``ns`` (real time under TCG or KVM).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

METHOD_TITLES = {
    "test_run": "BPF_PROG_TEST_RUN (bpftool prog run, repeat)",
    "pktgen_native": "pktgen into veth, native XDP_DROP on the peer",
    "pktgen_generic": "pktgen into veth, generic XDP_DROP on the peer",
}
CONFIG_ORDER = ("base", "base-off", "base-on", "off", "on")
CONFIG_TITLES = {
    "base": "base (unpatched)",
    "base-off": "base (--against), statistics off",
    "base-on": "base (--against), statistics on",
    "off": "patched, statistics off",
    "on": "patched, statistics on",
}
CLOCK_ORDER = ("icount", "ns")
UNITS = {"icount": "insn", "ns": "ns"}
# (configuration, compared with): what the table shows the difference of; a base
# kernel with statistics (--against series) is compared setting for setting
COMPARISONS = (
    ("off", "base"),
    ("on", "base"),
    ("on", "off"),
    ("off", "base-off"),
    ("on", "base-on"),
    ("base-on", "base-off"),
)
# per configuration: what its "vs base" and "vs off" columns compare it with
VS_BASE = {"off": ("base", "base-off"), "on": ("base", "base-on")}
VS_OFF = {"on": ("off",), "base-on": ("base-off",)}


@dataclass(frozen=True)
class Row:
    clock: str
    method: str
    config: str
    runs: int
    min: float
    median: float
    max: float


@dataclass(frozen=True)
class Delta:
    """``config`` against ``against``: the difference and the ratio of the medians."""

    clock: str
    method: str
    config: str
    against: str
    delta: float
    ratio: float


def _ordered(found: Iterable[str], order: Iterable[str]) -> list[str]:
    found = set(found)
    return [x for x in order if x in found] + sorted(found - set(order))


def samples_by_key(
    samples: Iterable[Mapping[str, object]],
) -> dict[tuple[str, str, str], list[float]]:
    """(clock, method, config) -> the values per packet, in sample order."""
    groups: dict[tuple[str, str, str], list[float]] = {}
    for s in samples:
        value = s["ns_per_packet"]
        if not isinstance(value, int | float):
            raise ValueError(f"sample without a number: {dict(s)}")
        key = (str(s.get("clock", "ns")), str(s["method"]), str(s["config"]))
        groups.setdefault(key, []).append(float(value))
    return groups


def summarize(samples: Iterable[Mapping[str, object]]) -> list[Row]:
    """Rows in clock, method, then configuration order."""
    groups = samples_by_key(samples)
    rows = []
    for clock in _ordered((k[0] for k in groups), CLOCK_ORDER):
        methods = _ordered((k[1] for k in groups if k[0] == clock), METHOD_TITLES)
        for method in methods:
            configs = [k[2] for k in groups if k[:2] == (clock, method)]
            for config in _ordered(configs, CONFIG_ORDER):
                values = groups[(clock, method, config)]
                rows.append(
                    Row(
                        clock,
                        method,
                        config,
                        len(values),
                        min(values),
                        statistics.median(values),
                        max(values),
                    )
                )
    return rows


def deltas(rows: Iterable[Row]) -> list[Delta]:
    """Every comparison of COMPARISONS both of whose medians were measured."""
    median = {(r.clock, r.method, r.config): r.median for r in rows}
    out = []
    for clock, method, _ in dict.fromkeys((k[0], k[1], "") for k in median):
        for config, against in COMPARISONS:
            a, b = median.get((clock, method, config)), median.get((clock, method, against))
            if a is not None and b is not None:
                out.append(Delta(clock, method, config, against, a - b, a / b if b else 0.0))
    return out


def _first(
    found: Mapping[tuple[str, str, str, str], Delta],
    key: tuple[str, str, str],
    against: Iterable[str],
) -> Delta | None:
    return next((found[(*key, a)] for a in against if (*key, a) in found), None)


def _fmt_delta(d: Delta | None) -> str:
    if d is None:
        return ""
    if d.clock == "icount":
        return f"{d.delta:+.1f} ({(d.ratio - 1) * 100:+.2f} %)"
    return f"\N{MULTIPLICATION SIGN}{d.ratio:.3f}"


def render_table(rows: Sequence[Row], header: Sequence[str] = ()) -> str:
    """One line per method and configuration, a column group per clock: the median,
    the spread (min … max over the runs) and the differences of the medians
    (instructions: off - base, on - base, on - off; ns: their ratios)."""
    clocks = _ordered({r.clock for r in rows}, CLOCK_ORDER)
    by_key = {(r.clock, r.method, r.config): r for r in rows}
    found = {(d.clock, d.method, d.config, d.against): d for d in deltas(rows)}
    head = ["method", "configuration", "runs"]
    align = ["---", "---", "---:"]
    for clock in clocks:
        unit = UNITS.get(clock, clock)
        head += [
            f"{unit}/packet (median)",
            f"{unit} min … max",
            f"{unit} vs base",
            f"{unit} vs off",
        ]
        align += ["---:"] * 4
    lines = [*header, ""] if header else []
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    pairs = list(dict.fromkeys((r.method, r.config) for r in rows))
    methods = _ordered({m for m, _ in pairs}, METHOD_TITLES)
    for method in methods:
        for config in _ordered({c for m, c in pairs if m == method}, CONFIG_ORDER):
            measured = [
                by_key[(c, method, config)] for c in clocks if (c, method, config) in by_key
            ]
            cells = [
                METHOD_TITLES.get(method, method),
                CONFIG_TITLES.get(config, config),
                str(max(r.runs for r in measured)),
            ]
            for clock in clocks:
                r = by_key.get((clock, method, config))
                if r is None:
                    cells += ["", "", "", ""]
                    continue
                cells += [
                    f"{r.median:.1f}",
                    f"{r.min:.1f} … {r.max:.1f}",
                    _fmt_delta(_first(found, (clock, method, config), VS_BASE.get(config, ()))),
                    _fmt_delta(_first(found, (clock, method, config), VS_OFF.get(config, ()))),
                ]
            lines.append("| " + " | ".join(cells) + " |")
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
    """A panel per clock and method: every run as a dot, the median as a bar, min-max
    as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clocks = list(dict.fromkeys(r.clock for r in rows))
    methods = list(dict.fromkeys(r.method for r in rows))
    fig, axes = plt.subplots(
        len(clocks),
        len(methods),
        figsize=(5.5 * len(methods), 4.5 * len(clocks)),
        squeeze=False,
    )
    points = samples_by_key(samples)
    colors = {
        "base": "#7f7f7f",
        "base-off": "#aec7e8",
        "base-on": "#ff9896",
        "off": "#1f77b4",
        "on": "#d62728",
    }
    for i, clock in enumerate(clocks):
        for j, method in enumerate(methods):
            ax = axes[i][j]
            mrows = [r for r in rows if (r.clock, r.method) == (clock, method)]
            if not mrows:
                ax.set_visible(False)
                continue
            xs = range(len(mrows))
            ax.bar(
                xs,
                [r.median for r in mrows],
                color=[colors.get(r.config, "#2ca02c") for r in mrows],
                alpha=0.45,
            )
            base = next((r.median for r in mrows if r.config in ("base", "base-on")), None)
            for x, r in zip(xs, mrows, strict=True):
                ax.vlines(x, r.min, r.max, color="black", linewidth=1)
                vals = points.get((clock, method, r.config), [])
                ax.scatter([x] * len(vals), vals, color="black", s=12, zorder=3)
                label = f"{r.median:.1f}"
                if base and not r.config.startswith("base"):
                    label += f"\n{r.median - base:+.1f}"
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
            ax.set_ylabel(f"{UNITS.get(clock, clock)} per packet")
            ax.set_title(METHOD_TITLES.get(method, method), fontsize=9)
            ax.set_ylim(0, max(r.max for r in mrows) * 1.25)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
