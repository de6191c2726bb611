"""scripts/kernel-doc -none -Wall on the .c and .h files a patch touches: no new
warning against the file before the patch."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

from harness.checks import CheckResult, failed, passed, skipped
from harness.runner import Runner

NAME = "kernel-doc"
_WARNING = re.compile(r"^(?:.*?):\d+: (warning|error): (.*)$")


def kerneldoc_lines(output: str) -> Counter[str]:
    """Each warning without its file and line: a line moved by the patch is the same
    warning."""
    found: Counter[str] = Counter()
    for line in output.splitlines():
        m = _WARNING.match(line.strip())
        if m:
            found[f"{m.group(1)}: {m.group(2)}"] += 1
    return found


def _run(script: Path, file: Path, cwd: Path, runner: Runner) -> str:
    proc = runner.run(["perl", str(script), "-none", "-Wall", str(file)], cwd=cwd, check=False)
    return (proc.stdout or "") + (proc.stderr or "")


def check_kerneldoc(worktree: Path, files: list[str], runner: Runner) -> CheckResult:
    """``worktree`` is at the patch, its parent commit the tree before it."""
    script = worktree / "scripts" / "kernel-doc"
    sources = [f for f in files if f.endswith((".c", ".h")) and (worktree / f).is_file()]
    if not sources:
        return skipped(NAME, "no .c or .h file changed")
    new: list[str] = []
    logs: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kdoc-") as tmp:
        for f in sources:
            after = _run(script, Path(f), worktree, runner)
            old = runner.run(["git", "-C", str(worktree), "show", f"HEAD~1:{f}"], check=False)
            before = ""
            if old.returncode == 0:
                copy = Path(tmp) / f
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_text(old.stdout)
                before = _run(script, Path(f), Path(tmp), runner)
            added = kerneldoc_lines(after) - kerneldoc_lines(before)
            new += [f"{f}: {w}" for w in added.elements()]
            if after.strip():
                logs.append(f"== {f}\n{after.strip()}")
    log = "\n".join(new) + ("\n\n" if new else "") + "\n".join(logs)
    if new:
        return failed(NAME, f"{len(new)} new warning(s): {new[0]}", log)
    return passed(NAME, f"no new warning in {len(sources)} file(s)", log)
