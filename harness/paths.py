"""Where things live: the repository, the cache outside it, per-run results."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import UsageError


def find_repo(start: Path | None = None) -> Path:
    """The repository root: $HARNESS_REPO, or the nearest parent with patches/ and
    kernel-config/, or the checkout this package was installed from (editable)."""
    env = os.environ.get("HARNESS_REPO")
    candidates: list[Path] = []
    if env:
        candidates.append(Path(env))
    here = (start or Path.cwd()).resolve()
    candidates.extend([here, *here.parents])
    candidates.append(Path(__file__).resolve().parent.parent)
    for cand in candidates:
        if (cand / "patches").is_dir() and (cand / "kernel-config").is_dir():
            return cand
    raise UsageError(
        "cannot find the harness repository (a directory with patches/ and kernel-config/)",
        "run harness from inside its checkout, or set HARNESS_REPO=/path/to/checkout",
    )


def default_cache() -> Path:
    env = os.environ.get("HARNESS_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "xdp-harness"


@dataclass(frozen=True)
class CacheLayout:
    """Everything expensive lives here, outside the repository, and survives runs."""

    root: Path

    @property
    def debian_repo(self) -> Path:
        """A bare repository: the base is only ever checked out in worktrees."""
        return self.root / "linux.git"

    @property
    def trees(self) -> Path:
        return self.root / "trees"

    @property
    def ccache(self) -> Path:
        return self.root / "ccache"

    # One directory per series stack, its source and build side by side: the
    # build always sees its source as ../src, so compiler command lines are the
    # same for every stack and ccache (with CCACHE_BASEDIR) shares objects
    # between them.
    def stack(self, key: str) -> Path:
        return self.root / "stacks" / key

    def worktree(self, key: str) -> Path:
        return self.stack(key) / "src"

    def worktree_state(self, key: str) -> Path:
        return self.stack(key) / "state.json"

    def build(self, key: str) -> Path:
        return self.stack(key) / "build"

    def bpf(self, key: str) -> Path:
        return self.stack(key) / "bpf"

    def stack_lock(self, key: str) -> Path:
        """Held (harness.locks) while a run works on the stack or boots its kernel."""
        return self.stack(key) / "lock"

    @property
    def source_lock(self) -> Path:
        """Held while the base is imported or a worktree is registered in it."""
        return self.root / "source.lock"

    @property
    def accel_probe(self) -> Path:
        return self.root / "accel-probe.json"

    @property
    def last_runs(self) -> Path:
        return self.root / "last-run"


def run_stamp() -> str:
    """The time part of a run id (UTC, one-second resolution: see new_results_dir)."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def new_results_dir(root: Path, name: str) -> Path:
    """Create root/name, or root/name-2, -3, ... if that exists: two runs started in the
    same second (two CI jobs) never share, or overwrite, a results directory."""
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = root / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir(exist_ok=False)
        except FileExistsError:
            n += 1
            continue
        return path


def point_latest(results: Path) -> None:
    """<results root>/latest -> this run, replaced in one step (rename), so that runs
    finishing together never fail on a link another one has just made."""
    latest = results.parent / "latest"
    tmp = results.parent / f".latest.{os.getpid()}.{secrets.token_hex(4)}"
    tmp.symlink_to(results.name)
    os.replace(tmp, latest)
