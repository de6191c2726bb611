"""A comparison (harness.compare) as rich tables on stdout and as one self-contained
HTML page (styles inline, bench plots inlined as base64 PNG)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.compare import IDENTICAL, KINDS, Comparison, Fact, Figure, TestRow, compare
from harness.errors import ExitCode, UsageError
from harness.results_load import LoadedResults
from harness.ui import progress

HTML_NAME = "results-compare.html"
PLOT_NAME = "bench.png"
_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "error": "bold red",
    "skip": "yellow",
}


def verdict(cmp: Comparison) -> str:
    if cmp.matches():
        what = f"{len(cmp.tests)} tests" if cmp.kind == "run" else f"{len(cmp.figures)} figures"
        return f"SAME: the outcomes match ({what})"
    return "DIFFERENT: " + "; ".join(cmp.differences())


def _ratio(f: Figure) -> str:
    r = f.ratio
    return "-" if r is None else f"{r:.4f}"


def _value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if unit == "bytes" else f"{v:.2f}"


def _outcome(o: str | None) -> str:
    if o is None:
        return "[dim]-[/dim]"
    style = _STYLE.get(o)
    return f"[{style}]{o}[/{style}]" if style else o


def _facts_table(title: str, facts: Sequence[Fact], a: str, b: str) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("")
    t.add_column(a, overflow="fold")
    t.add_column(b, overflow="fold")
    t.add_column("")
    for f in facts:
        t.add_row(f.what, f.a, f.b, "" if f.same else "[bold]differs[/bold]")
    return t


def print_text(cmp: Comparison, console: Console, show_identical: bool = False) -> None:
    """The tables: the runs, their outcomes, each group of tests that is not empty
    (identical ones only counted, unless ``show_identical``), bench figures; the verdict."""
    console.print(f"A: {cmp.a_label}")
    console.print(f"B: {cmp.b_label}")
    console.print(_facts_table("the runs", cmp.context, "A", "B"))
    console.print(_facts_table("their outcomes", cmp.outcomes, "A", "B"))
    if cmp.kind == "run":
        counts = cmp.counts()
        console.print("tests: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        for kind in KINDS:
            rows = cmp.group(kind)
            if not rows or (kind == IDENTICAL and not show_identical):
                continue
            t = Table(title=f"{kind} ({len(rows)})", title_justify="left")
            t.add_column("test", overflow="fold")
            t.add_column("A")
            t.add_column("B")
            t.add_column("B's message", overflow="fold")
            for r in rows:
                t.add_row(r.name, _outcome(r.a), _outcome(r.b), r.message_b[:160])
            console.print(t)
    if cmp.figures:
        t = Table(title="figures (B/A)", title_justify="left")
        for col in ("figure", "unit", "A", "B", "B/A"):
            t.add_column(col, justify="left" if col in ("figure", "unit") else "right")
        for f in cmp.figures:
            t.add_row(f.what, f.unit, _value(f.a, f.unit), _value(f.b, f.unit), _ratio(f))
        console.print(t)
    console.print(verdict(cmp), markup=False, highlight=False)


# -- HTML ----------------------------------------------------------------------
_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left;
         font-size: 0.9em; vertical-align: top; }
td.num { text-align: right; font-family: monospace; }
tr.differs td { background: #fff3cd; }
.pass { color: #1a7f37; } .fail, .error { color: #cf222e; font-weight: bold; }
.skip { color: #9a6700; } .none { color: #888; }
.verdict { font-size: 1.2em; font-weight: bold; }
.same { color: #1a7f37; } .different { color: #cf222e; }
code { font-size: 0.9em; }
img { max-width: 100%; border: 1px solid #ccc; }
.plots { display: flex; gap: 1em; flex-wrap: wrap; }
.plots figure { flex: 1 1 45%; margin: 0; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _cell_outcome(o: str | None) -> str:
    return '<td class="none">-</td>' if o is None else f'<td class="{_e(o)}">{_e(o)}</td>'


def _facts_html(title: str, facts: Sequence[Fact]) -> str:
    rows = "".join(
        f"<tr{'' if f.same else ' class=differs'}><td>{_e(f.what)}</td>"
        f"<td>{_e(f.a)}</td><td>{_e(f.b)}</td></tr>"
        for f in facts
    )
    return f"<h2>{_e(title)}</h2><table><tr><th></th><th>A</th><th>B</th></tr>{rows}</table>"


def _tests_html(kind: str, rows: Sequence[TestRow]) -> str:
    body = "".join(
        f"<tr><td><code>{_e(r.name)}</code></td>{_cell_outcome(r.a)}{_cell_outcome(r.b)}"
        f"<td>{_e(r.message_b[:300])}</td></tr>"
        for r in rows
    )
    table = f"<table><tr><th>test</th><th>A</th><th>B</th><th>B's message</th></tr>{body}</table>"
    title = f"{_e(kind)} ({len(rows)})"
    if kind == IDENTICAL:
        return f"<details><summary>{title}</summary>{table}</details>"
    return f"<h3>{title}</h3>{table}"


def _figures_html(figures: Sequence[Figure]) -> str:
    body = "".join(
        f"<tr{' class=differs' if f.a is None or f.b is None else ''}>"
        f"<td>{_e(f.what)}</td><td>{_e(f.unit)}</td><td class=num>{_e(_value(f.a, f.unit))}</td>"
        f"<td class=num>{_e(_value(f.b, f.unit))}</td><td class=num>{_e(_ratio(f))}</td></tr>"
        for f in figures
    )
    return (
        "<h2>figures</h2><table><tr><th>figure</th><th>unit</th><th>A</th><th>B</th>"
        f"<th>B/A</th></tr>{body}</table>"
    )


def _plot_html(label: str, plot: Path | None) -> str:
    if plot is None or not plot.is_file():
        return ""
    data = base64.b64encode(plot.read_bytes()).decode("ascii")
    return (
        f"<figure><figcaption>{_e(label)}</figcaption>"
        f'<img alt="bench plot of {_e(label)}" src="data:image/png;base64,{data}"></figure>'
    )


def render_html(cmp: Comparison, plot_a: Path | None = None, plot_b: Path | None = None) -> str:
    """The page: verdict, the runs, their outcomes, the tests by group (identical ones
    folded), the bench figures and both plots where the results have one."""
    same = cmp.matches()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>compare {_e(Path(cmp.a_label).name)} vs {_e(Path(cmp.b_label).name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>results compared</h1>",
        f"<p>A: <code>{_e(cmp.a_label)}</code><br>B: <code>{_e(cmp.b_label)}</code></p>",
        f'<p class="verdict {"same" if same else "different"}">{_e(verdict(cmp))}</p>',
        _facts_html("the runs", cmp.context),
        _facts_html("their outcomes", cmp.outcomes),
    ]
    if cmp.kind == "run":
        counts = cmp.counts()
        parts.append(
            "<h2>tests</h2><p>" + _e(", ".join(f"{n} {k}" for k, n in counts.items())) + "</p>"
        )
        parts += [_tests_html(k, cmp.group(k)) for k in KINDS if cmp.group(k)]
    if cmp.figures:
        parts.append(_figures_html(cmp.figures))
    plots = _plot_html("A", plot_a) + _plot_html("B", plot_b)
    if plots:
        parts.append(f'<h2>plots</h2><div class="plots">{plots}</div>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(cmp: Comparison, a: LoadedResults, b: LoadedResults, out: Path | None) -> Path:
    """results-compare.html in ``out``, else beside B (in B's results directory, or
    beside B's bundle); returns its path."""
    where = out or b.beside
    path = where / HTML_NAME
    page = render_html(cmp, a.directory / PLOT_NAME, b.directory / PLOT_NAME)
    try:
        where.mkdir(parents=True, exist_ok=True)
        path.write_text(page)
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror or exc}", "pass --out DIR, a writable directory"
        ) from exc
    return path


def compare_and_show(
    a: LoadedResults,
    b: LoadedResults,
    out: Path | None = None,
    console: Console | None = None,
    show_identical: bool = False,
) -> ExitCode:
    """Compare, print the tables, write the page: exit 0 when the outcomes match, 1
    when they differ."""
    cmp = compare(a.data, b.data, a.label, b.label)
    print_text(cmp, console or Console(), show_identical)
    progress(f"wrote {write_html(cmp, a, b, out)}")
    return ExitCode.OK if cmp.matches() else ExitCode.FAILED
