"""What a run tested, recorded in results.json ("inputs") so that it can be reproduced:
the stack's series with the digest of each patch, the config fragments, the options
that select and run the tests. `harness reproduce` records the same of this checkout
and compares the two (harness.reproduce)."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.series import MANIFEST, Series

SCHEMA = 1


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def series_record(s: Series) -> dict[str, Any]:
    """A series as applied: its name, the digest of its manifest and of each patch."""
    manifest = s.path / MANIFEST
    return {
        "name": s.name,
        "manifest_sha256": sha256_file(manifest) if manifest.exists() else None,
        "patches": [{"name": p.name, "sha256": sha256_file(p)} for p in s.patches],
    }


def fragments_record(fragments: list[Path]) -> list[dict[str, str]]:
    return [{"name": f.name, "sha256": sha256_file(f)} for f in fragments if f.exists()]


def harness_commit(repo: Path) -> tuple[str | None, bool]:
    """The checkout's commit and whether it has uncommitted changes (None: not a git
    checkout). Not a command of the run: not in commands.sh."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if head.returncode != 0:
            return None, False
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, False
    return head.stdout.strip(), bool(dirty.stdout.strip())


@dataclass(frozen=True)
class RunInputs:
    """What `harness run` was asked to do, beyond the base (the report's "kernel")."""

    series: list[dict[str, Any]]
    fragments: list[dict[str, str]]
    debug_config: bool
    kernel_tree: str | None
    accel: str  # requested: auto | kvm | tcg
    keyword: str | None
    pytest_args: list[str]
    allow_skips: bool
    jobs: int
    timeout: float | None
    boot_timeout: float | None
    guest_image: str | None = None  # None: the host's userspace (vng's default)
    harness_commit: str | None = None
    harness_dirty: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "series": self.series,
            "config": {"fragments": self.fragments, "debug": self.debug_config},
            "kernel_tree": self.kernel_tree,
            "accel": self.accel,
            "keyword": self.keyword,
            "pytest_args": self.pytest_args,
            "allow_skips": self.allow_skips,
            "jobs": self.jobs,
            "timeout": self.timeout,
            "boot_timeout": self.boot_timeout,
            "guest_image": self.guest_image,
            "harness_commit": self.harness_commit,
            "harness_dirty": self.harness_dirty,
        }

    @property
    def series_names(self) -> list[str]:
        return [str(s["name"]) for s in self.series]


def read(data: Mapping[str, Any], where: str) -> RunInputs | None:
    """The inputs recorded in a results.json, None when it has none (written before
    the harness recorded them). A record that is there but malformed: UsageError."""
    raw = data.get("inputs")
    if raw is None:
        return None
    try:
        config = raw["config"]
        series = list(raw["series"])
        for s in series:
            str(s["name"])
            for p in s["patches"]:
                str(p["name"]), str(p["sha256"])
        return RunInputs(
            series=series,
            fragments=list(config["fragments"]),
            debug_config=bool(config["debug"]),
            kernel_tree=raw.get("kernel_tree"),
            accel=str(raw.get("accel", "auto")),
            keyword=raw.get("keyword"),
            pytest_args=[str(a) for a in raw.get("pytest_args", [])],
            allow_skips=bool(raw.get("allow_skips", False)),
            jobs=int(raw.get("jobs", 1)),
            timeout=raw.get("timeout"),
            boot_timeout=raw.get("boot_timeout"),
            guest_image=raw.get("guest_image"),
            harness_commit=raw.get("harness_commit"),
            harness_dirty=bool(raw.get("harness_dirty", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(
            f'{where}: its "inputs" record is malformed ({type(exc).__name__}: {exc})',
            "was the file edited by hand? take the results.json the run wrote",
        ) from exc


def keyword_from_command(command: str) -> str | None:
    """-k EXPR from a recorded command line (results written before "inputs")."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for i, w in enumerate(words):
        if w == "-k" and i + 1 < len(words):
            return words[i + 1]
        if w.startswith("-k") and len(w) > 2:
            return w[2:]
    return None


@dataclass(frozen=True)
class BaseRef:
    """The base kernel a run was made on, as results.json's "kernel" records it."""

    commit: str
    version: str
    origin: str

    def describe(self) -> str:
        return f"{self.version} ({self.origin}, commit {self.commit[:12]})"


def base_of(data: Mapping[str, Any]) -> BaseRef | None:
    kernel = data.get("kernel") or {}
    commit = kernel.get("base_commit")
    if not commit:
        return None
    return BaseRef(str(commit), str(kernel.get("version", "?")), str(kernel.get("origin", "?")))


class BaseDiffers(UsageError):
    """The base kernel here is not the one the results were made on."""


def check_base(expected: BaseRef, commit: str, version: str, origin: str) -> None:
    """Refuse (exit 2) when the base this checkout builds is another one."""
    if commit == expected.commit:
        return
    here = BaseRef(commit, version, origin)
    raise BaseDiffers(
        f"base differs: the results were made on {expected.describe()}, "
        f"the base here is {here.describe()}",
        "install that base (Debian's linux-source-6.12 of the recorded version), or pass "
        "--kernel-tree PATH to a kernel git tree whose HEAD is the recorded commit",
    )
