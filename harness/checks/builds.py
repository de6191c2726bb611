"""The tree builds with the patch (incrementally), and the .c files the patch
touches compile with W=1 without warnings they did not have before it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.build import jobs
from harness.checks import CheckResult, failed, passed
from harness.errors import BrokenBuild
from harness.runner import Runner

NAME = "builds"
_WARNING = re.compile(r"^(\S+?):\d+(?::\d+)?: warning: (.*)$")
# Not objects of the kernel: built by other makefiles, or not at all.
_NOT_KERNEL = ("tools/", "Documentation/", "scripts/", "samples/", "usr/")

# Builds the whole kernel at the worktree's HEAD (the existing, incremental build);
# raises BrokenBuild when the code does not compile or link.
FullBuild = Callable[[], None]


def objects(files: list[str]) -> list[str]:
    """The kernel objects of the touched .c files."""
    return [f[:-2] + ".o" for f in files if f.endswith(".c") and not f.startswith(_NOT_KERNEL)]


def warnings(output: str) -> Counter[str]:
    """gcc's warnings without line and column: the same warning moved is not new."""
    found: Counter[str] = Counter()
    for line in output.splitlines():
        m = _WARNING.match(line.strip())
        if m:
            found[f"{m.group(1)}: {m.group(2)}"] += 1
    return found


@dataclass(frozen=True)
class W1Build:
    """make W=1 <object> in the worktree, out of tree in build_dir."""

    worktree: Path
    build_dir: Path
    runner: Runner
    env: Mapping[str, str]

    def compile(self, obj: str) -> tuple[int, str]:
        proc = self.runner.run(
            [
                "make",
                f"O={self.build_dir}",
                f"-j{jobs()}",
                "CC=ccache gcc",
                "W=1",
                obj,
            ],
            cwd=self.worktree,
            env=dict(self.env),
            check=False,
        )
        return proc.returncode, (proc.stdout or "") + (proc.stderr or "")

    def warnings_of(self, files: list[str]) -> dict[str, Counter[str]]:
        """W=1 warnings per object of these files (those in the tree now)."""
        found: dict[str, Counter[str]] = {}
        for obj in objects(files):
            if (self.worktree / (obj[:-2] + ".c")).is_file():
                _, out = self.compile(obj)
                found[obj] = warnings(out)
        return found


def check_build(
    files: list[str],
    before: dict[str, Counter[str]],
    w1: W1Build,
    full_build: FullBuild,
) -> CheckResult:
    """After the patch: the kernel builds, and no touched object has a W=1 warning it
    did not have ``before`` (W1Build.warnings_of, run before the patch applied)."""
    try:
        full_build()
    except BrokenBuild as exc:
        return failed(NAME, "the kernel does not build", str(exc))
    new: list[str] = []
    logs: list[str] = []
    for obj in objects(files):
        if not (w1.worktree / (obj[:-2] + ".c")).is_file():
            continue
        rc, out = w1.compile(obj)
        if rc != 0:
            if "No rule to make target" in out:
                logs.append(f"== {obj}: not built by this config")
                continue
            return failed(NAME, f"{obj} does not compile with W=1", out.strip())
        added = warnings(out) - before.get(obj, Counter())
        new += list(added.elements())
        logs.append(f"== make W=1 {obj}\n{out.strip()}")
    log = "\n".join(new) + ("\n\n" if new else "") + "\n".join(logs)
    if new:
        return failed(NAME, f"{len(new)} new W=1 warning(s): {new[0]}", log)
    n = len(objects(files))
    return passed(NAME, f"builds; no new W=1 warning in {n} object(s)", log)
