"""`harness bench`: what the series adds to the kernel's size, by the tree's
scripts/bloat-o-meter (symbol sizes from nm), base build vs patched build.

Compared: vmlinux, and the objects of the XDP drivers the configuration builds
(each group's objects present in both builds; bloat-o-meter per object, the
group's deltas summed). Every report is kept in the results directory.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.runner import Runner

BLOAT_O_METER = Path("scripts/bloat-o-meter")

# name -> object globs, relative to a build directory
TARGETS: dict[str, tuple[str, ...]] = {
    "vmlinux": ("vmlinux",),
    "veth": ("drivers/net/veth.o",),
    "virtio_net": ("drivers/net/virtio_net.o",),
    "tun": ("drivers/net/tun.o",),
    "netdevsim": ("drivers/net/netdevsim/*.o",),
    "bonding": ("drivers/net/bonding/*.o",),
}

_SUMMARY = re.compile(
    r"add/remove: (?P<add>\d+)/(?P<remove>\d+) grow/shrink: (?P<grow>\d+)/(?P<shrink>\d+) "
    r"up/down: (?P<up>\d+)/(?P<down>-?\d+) \((?P<delta>-?\d+)\)"
)
_TOTAL = re.compile(r"Total: Before=(?P<before>\d+), After=(?P<after>\d+)")


@dataclass(frozen=True)
class Bloat:
    """One bloat-o-meter report, or the sum of several."""

    added: int = 0
    removed: int = 0
    grown: int = 0
    shrunk: int = 0
    before: int = 0
    after: int = 0

    @property
    def delta(self) -> int:
        return self.after - self.before

    def __add__(self, other: Bloat) -> Bloat:
        return Bloat(
            self.added + other.added,
            self.removed + other.removed,
            self.grown + other.grown,
            self.shrunk + other.shrunk,
            self.before + other.before,
            self.after + other.after,
        )


def parse(text: str) -> Bloat:
    """The counts and totals of ``bloat-o-meter old new`` output (no -c/-d/-t)."""
    summary = _SUMMARY.search(text)
    total = _TOTAL.search(text)
    if summary is None or total is None:
        raise ValueError(f"not bloat-o-meter output: {text[:200]!r}")
    bloat = Bloat(
        added=int(summary["add"]),
        removed=int(summary["remove"]),
        grown=int(summary["grow"]),
        shrunk=int(summary["shrink"]),
        before=int(total["before"]),
        after=int(total["after"]),
    )
    if bloat.delta != int(summary["delta"]):
        raise ValueError(
            f"bloat-o-meter's net change {summary['delta']} is not After-Before {bloat.delta}"
        )
    return bloat


@dataclass
class Target:
    name: str
    objects: list[str] = field(default_factory=list)  # relative paths compared
    bloat: Bloat = field(default_factory=Bloat)
    only_in: dict[str, list[str]] = field(default_factory=dict)  # "base"/"patched" -> paths
    error: str | None = None


def _objects(build: Path, globs: Sequence[str]) -> set[str]:
    return {str(p.relative_to(build)) for g in globs for p in build.glob(g) if p.is_file()}


def compare(
    tree: Path, base_build: Path, patched_build: Path, out: Path, runner: Runner
) -> list[Target]:
    """bloat-o-meter of every target built, reports in ``out/<target>.txt``."""
    out.mkdir(parents=True, exist_ok=True)
    script = tree / BLOAT_O_METER
    targets = []
    for name, globs in TARGETS.items():
        base, patched = _objects(base_build, globs), _objects(patched_build, globs)
        if not base and not patched:
            continue  # not built by this configuration
        target = Target(name, sorted(base & patched))
        for side, only in (("base", base - patched), ("patched", patched - base)):
            if only:
                target.only_in[side] = sorted(only)
        reports = []
        for rel in target.objects:
            proc = runner.run(
                [sys.executable, str(script), str(base_build / rel), str(patched_build / rel)],
                check=False,
            )
            reports.append(f"### {rel}\n{proc.stdout}{proc.stderr}")
            try:
                target.bloat += parse(proc.stdout)
            except ValueError as exc:
                target.error = f"{rel}: bloat-o-meter exited {proc.returncode}: {exc}"
        (out / f"{name}.txt").write_text("\n".join(reports))
        targets.append(target)
    return targets


def render(targets: Sequence[Target], title: str) -> str:
    """A Markdown table of the totals, one row per target."""
    lines = [
        title,
        "",
        "| object | files | symbols +/- | grown/shrunk | before bytes | after bytes | delta |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        b = t.bloat
        note = f" ({t.error})" if t.error else ""
        for side, only in t.only_in.items():
            note += f" (only in {side}: {', '.join(only)})"
        lines.append(
            f"| {t.name}{note} | {len(t.objects)} | +{b.added}/-{b.removed} "
            f"| {b.grown}/{b.shrunk} | {b.before} | {b.after} | {b.delta:+d} |"
        )
    return "\n".join(lines) + "\n"
