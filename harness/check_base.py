"""The base a posting is checked against, read without a checkout: which files it
has, the subjects of its commits (when it has history), its scripts/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.runner import Runner

# What checkpatch.pl and kernel-doc read besides themselves.
SCRIPTS = (
    "scripts/checkpatch.pl",
    "scripts/spelling.txt",
    "scripts/const_structs.checkpatch",
    "scripts/kernel-doc",
)


@dataclass(frozen=True)
class BaseTree:
    """A commit in a git repository (a --kernel-tree, or the Debian import in the
    cache). ``history``: whether its commits are the kernel's (a --kernel-tree), so
    that Fixes: tags can be looked up; Debian's tarball is one commit."""

    git_dir: Path
    commit: str
    history: bool
    runner: Runner

    def _git(self, *args: str) -> tuple[int, str]:
        proc = self.runner.run(["git", "--git-dir", str(self.git_dir), *args], check=False)
        return proc.returncode, proc.stdout

    def exists(self, path: str) -> bool:
        return self._git("cat-file", "-e", f"{self.commit}:{path}")[0] == 0

    def subject(self, sha: str) -> str | None:
        """The subject of commit ``sha`` if the base's history has it."""
        if not self.history:
            return None
        rc, out = self._git("log", "-1", "--format=%s", f"{sha}^{{commit}}", "--")
        return out.strip() if rc == 0 else None

    def extract_scripts(self, dest: Path) -> Path:
        """checkpatch.pl, kernel-doc and what they read (those the base has), into
        dest/scripts/."""
        for path in SCRIPTS:
            rc, text = self._git("show", f"{self.commit}:{path}")
            if rc == 0:
                (dest / path).parent.mkdir(parents=True, exist_ok=True)
                (dest / path).write_text(text)
        return dest / "scripts"
