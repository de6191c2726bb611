"""checkpatch.pl --strict: an ERROR fails, a WARNING or CHECK warns; types the series
allows (with their reason) are listed but count for nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.checks import CheckResult, failed, passed, warned
from harness.runner import Runner

NAME = "checkpatch"
_FINDING = re.compile(r"^(ERROR|WARNING|CHECK):([A-Z0-9_]+):")
_TOTAL = re.compile(r"^total: \d+ errors, \d+ warnings, (?:\d+ checks, )?\d+ lines checked", re.M)


@dataclass(frozen=True)
class Finding:
    level: str  # ERROR | WARNING | CHECK
    type: str  # e.g. LONG_LINE
    text: str  # the whole block checkpatch printed


def parse_findings(output: str) -> list[Finding]:
    found = []
    for raw in output.split("\n\n"):
        block = raw.strip()
        m = _FINDING.match(block)
        if m:
            found.append(Finding(m.group(1), m.group(2), block))
    return found


def judge(output: str, allow: Mapping[str, str]) -> CheckResult:
    """The result of checkpatch's output, the allow-list ({TYPE: reason}) applied."""
    if not _TOTAL.search(output):
        return failed(NAME, "checkpatch printed no summary: it did not run", output.strip())
    findings = parse_findings(output)
    counted = [f for f in findings if f.type not in allow]
    allowed = sorted({f.type for f in findings if f.type in allow})
    notes = [f"allowed {t}: {allow[t]}" for t in allowed]
    log = "\n\n".join([f.text for f in counted] + notes)
    counts = {lvl: sum(f.level == lvl for f in counted) for lvl in ("ERROR", "WARNING", "CHECK")}
    what = ", ".join(f"{n} {lvl.lower()}{'s' if n > 1 else ''}" for lvl, n in counts.items() if n)
    types = ", ".join(sorted({f.type for f in counted}))
    suffix = f" ({'; '.join(notes)})" if notes else ""
    if counts["ERROR"]:
        return failed(NAME, f"{what}: {types}{suffix}", log)
    if counted:
        return warned(NAME, f"{what}: {types}{suffix}", log)
    return passed(NAME, "clean" + suffix, log)


def run_checkpatch(
    patch: Path,
    script: Path,
    runner: Runner,
    allow: Mapping[str, str],
    tree: Path | None = None,
) -> CheckResult:
    """checkpatch.pl of ``script`` on ``patch``; in ``tree`` (the patched worktree) as
    the kernel's own tooling runs it, else with --no-tree."""
    cmd = ["perl", str(script), "--strict", "--no-color", "--show-types"]
    if tree is None:
        cmd.append("--no-tree")
    proc = runner.run([*cmd, str(patch)], cwd=tree or patch.parent, check=False)
    return judge(proc.stdout + proc.stderr, allow)
