"""Helpers shared by the tests: hermetic git, a throwaway harness repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from harness.build import STAMP
from harness.guest_image import MANIFEST, MOUNTPOINTS, VENV_PYTHON
from harness.paths import CacheLayout
from harness.runner import Runner
from harness.source import tree_source

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.org",
}


def git(repo: Path, *args: str) -> str:
    """Run git in repo; fail the test with git's output if it fails."""
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout.strip()


def init_repo(path: Path, files: dict[str, str]) -> str:
    """A new git repository at path with files committed; returns the commit."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return commit_files(path, files, "base")


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        f = repo / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def write_manifest(repo: Path, name: str, body: str) -> Path:
    """patches/<name>/series.toml with body; returns the series directory."""
    d = repo / "patches" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "series.toml").write_text(body)
    return d


def make_series(
    repo: Path,
    name: str,
    *,
    depends_on: tuple[str, ...] = (),
    config: tuple[str, ...] = (),
    selftests: tuple[str, ...] = (),
    base: str | None = "6.12.117",
    patches: dict[str, str] | None = None,
    description: str = "",
) -> Path:
    """A valid series; fragments and suites it names are created too."""
    for frag in config:
        (repo / "kernel-config" / frag).write_text("CONFIG_BPF_SYSCALL=y\n")
    for suite in selftests:
        (repo / "selftests" / suite).mkdir(parents=True, exist_ok=True)

    def toml_list(items: tuple[str, ...]) -> str:
        return "[" + ", ".join(f'"{i}"' for i in items) + "]"

    lines = [
        f'name = "{name}"',
        f'description = "{description or "series " + name}"',
        f"depends-on = {toml_list(depends_on)}",
        f"config = {toml_list(config)}",
        f"selftests = {toml_list(selftests)}",
    ]
    if base is not None:
        lines.append(f'base = "{base}"')
    d = write_manifest(repo, name, "\n".join(lines) + "\n")
    for fname, text in (patches or {}).items():
        (d / fname).write_text(text)
    return d


def patch_text(subject: str, body: str = "") -> str:
    """A minimal git format-patch file (enough for listing and subject parsing)."""
    return (
        "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n"
        "From: Test Author <author@example.org>\n"
        "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
        f"Subject: {subject}\n\n{body}---\n"
    )


def script(path: Path, body: str) -> Path:
    """An executable /bin/sh script at path."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill_if_alive(pid: int) -> None:
    """Clean up a process a test started (by its pid), if the code under test did not."""
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


KERNEL_MAKEFILE = "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\n"


# A fake vng's first line: like the real one, --dry-run boots nothing (and shows no
# kernel command line: the harness takes it as fitting).
DRY_RUN = 'for a in "$@"; do [ "$a" = --dry-run ] && exit 0; done\n'


def fake_vng(bindir: Path, body: str) -> Path:
    """A vng on PATH (prepend bindir) that finds the results dir in its --rwdir argument
    ($RES, the host side of a GUEST=HOST pair) and plays a guest with body."""
    bindir.mkdir(parents=True, exist_ok=True)
    return script(
        bindir / "vng",
        DRY_RUN + 'while [ $# -gt 0 ]; do [ "$1" = --rwdir ] && RES=${2#*=}; shift; done\n' + body,
    )


def built_stack(tmp_path: Path, stack: str) -> tuple[Path, CacheLayout, str]:
    """A kernel git tree (tmp_path/linux) and a cache in which `stack` looks built from
    it: what `harness test --kernel-tree tmp_path/linux` needs. Returns (tree, cache,
    the stack's key in the cache)."""
    tree = tmp_path / "linux"
    if not tree.exists():
        init_repo(tree, {"Makefile": KERNEL_MAKEFILE})
    cache = CacheLayout(tmp_path / "cache")
    src = tree_source(tree, cache, Runner())
    key = f"{src.source_id}/{stack}"
    init_repo(cache.worktree(key), {"Makefile": KERNEL_MAKEFILE})
    build_dir = cache.build(key)
    (build_dir / "arch/x86/boot").mkdir(parents=True)
    (build_dir / "arch/x86/boot/bzImage").write_text("bzImage")
    (build_dir / STAMP).write_text("{}")
    (build_dir / ".config").write_text("CONFIG_NET=y\n")
    return tree, cache, key


def make_image(
    root: Path,
    image_id: str = "bookworm-0123456789ab",
    libs: tuple[str, ...] = (),
    libc6: str | None = None,
) -> Path:
    """What vm-images/build-rootfs.sh leaves: the manifest (with libc6's version when
    given), the venv's python, the mount points, and the given shared libraries."""
    (root / "etc").mkdir(parents=True)
    manifest: dict[str, object] = {"image_id": image_id}
    if libc6 is not None:
        manifest["debian"] = {"packages": {"libc6": libc6}}
    (root / MANIFEST).write_text(json.dumps(manifest))
    python = root / VENV_PYTHON.lstrip("/")
    python.parent.mkdir(parents=True)
    python.write_text("")
    for m in MOUNTPOINTS:
        (root / m.lstrip("/")).mkdir(parents=True, exist_ok=True)
    libdir = root / "usr/lib/x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    for lib in libs:
        (libdir / lib).write_text("")
    return root
