"""The patch applies (git am -3) on the tree with the patches before it."""

from __future__ import annotations

from pathlib import Path

from harness.apply import parse_am_failure
from harness.checks import CheckResult, failed, passed
from harness.runner import Runner
from harness.source import GIT_IDENTITY

NAME = "applies"


def git_am(worktree: Path, patch: Path, runner: Runner) -> CheckResult:
    """Apply ``patch`` as a commit; when it does not apply, the worktree is left as it
    was (git am --abort)."""
    before = runner.git(worktree, "rev-parse", "HEAD")
    proc = runner.run(
        ["git", "-C", str(worktree), "am", "-3", "--committer-date-is-author-date", str(patch)],
        env=GIT_IDENTITY,
        check=False,
    )
    out = ((proc.stdout or "") + (proc.stderr or "")).strip()
    if proc.returncode != 0:
        failure = parse_am_failure(out)
        runner.git(worktree, "am", "--abort", check=False, env=GIT_IDENTITY)
        files = ", ".join(failure.files) or "(git am named no file)"
        return failed(NAME, f"does not apply on {before[:12]}: {files}", out)
    how = " with a 3-way merge" if "3-way merge" in out else ""
    return passed(NAME, f"applies on {before[:12]}{how}", out)
