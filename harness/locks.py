"""Advisory locks (flock) on files in the cache, so that runs sharing a cache (two CI jobs
on one machine) do not work in the same place at once.

- the base import (``<cache>/source.lock``): unpacking and committing the tarball, mirroring
  a --kernel-tree, and registering worktrees in the base repository;
- a stack (``<cache>/stacks/<stack>/lock``): its worktree (git am, reset), its build
  directory (configure, make, bpftool, test_progs), its BPF objects, and the guest that
  boots its kernel. A second run of the same stack waits until the first one is done;
  runs of different stacks go on side by side.

The lock belongs to the open file: it is released when the holder closes it or dies,
so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from harness.ui import progress

LOCK_NAME = "lock"


def _holder(fd: int) -> str:
    """What the holder wrote into the lock file: its pid and command line."""
    with contextlib.suppress(OSError):
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        if text:
            return text
    return "another harness run"


@contextlib.contextmanager
def held(path: Path, what: str) -> Iterator[int]:
    """Hold an exclusive lock on ``path`` (created if missing), waiting for it if another
    process holds it; yields the locked file descriptor (not inherited by children)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"    waiting for {what}: held by {_holder(fd)} ({path})")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)}\n".encode(), 0)
        yield fd
    finally:
        os.close(fd)
