"""Less privilege for a child process: drop a capability, become an unprivileged user,
enter a user namespace of one's own.

The test process is root and threaded (pyroute2, scapy), so privilege is
dropped in a fresh interpreter, never in a fork of it: ``run_module()``
starts ``python -m <module>`` with the selftests on its path, in the
calling thread's network namespace, hands it a JSON payload and returns the
JSON it prints. The child calls the functions below (prctl(2), capset(2),
setuid(2), unshare(2) through ctypes) and checks in /proc/self/status that
they took.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CAP_NET_ADMIN = 12
CAP_SYS_BOOT = 22
NOBODY = 65534

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

SELFTESTS_DIR = Path(__file__).resolve().parent.parent


class _Header(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _Data(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _fail(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def effective_caps() -> int:
    """CapEff of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    raise RuntimeError("no CapEff in /proc/self/status")


def drop_capability(cap: int) -> None:
    """Remove ``cap`` from the bounding, effective, permitted and inheritable sets."""
    libc = _libc()
    if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
        raise _fail(f"prctl(PR_CAPBSET_DROP, {cap})")
    hdr = _Header(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    if libc.capget(ctypes.byref(hdr), data) != 0:
        raise _fail("capget")
    word, bit = divmod(cap, 32)
    for field in ("effective", "permitted", "inheritable"):
        setattr(data[word], field, getattr(data[word], field) & ~(1 << bit))
    if libc.capset(ctypes.byref(hdr), data) != 0:
        raise _fail("capset")
    if effective_caps() & (1 << cap):
        raise RuntimeError(f"capability {cap} still effective: CapEff {effective_caps():#x}")


def become_user(uid: int = NOBODY) -> None:
    """setgroups([]), setgid, setuid: an unprivileged user, with no capability left."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    # A change of credentials leaves the process not dumpable: its /proc/self files
    # (uid_map, for one) would stay root's. A process nobody started would be dumpable.
    if _libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
        raise _fail("prctl(PR_SET_DUMPABLE, 1)")
    if effective_caps():
        raise RuntimeError(f"uid {uid} kept capabilities: CapEff {effective_caps():#x}")


def enter_user_and_net_namespace() -> None:
    """unshare(CLONE_NEWUSER | CLONE_NEWNET) as an unprivileged user (``unshare -Urn``):
    root, with every capability, in a user namespace that owns a new network namespace,
    mapped to the caller's uid and gid outside."""
    uid, gid = os.getuid(), os.getgid()
    if _libc().unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        raise _fail("unshare(CLONE_NEWUSER | CLONE_NEWNET)")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    if os.getuid() != 0:
        raise RuntimeError(f"uid {os.getuid()} in the new user namespace, expected 0")


def enter_net_namespace() -> None:
    """unshare(CLONE_NEWNET): a new, empty network namespace (root only)."""
    if _libc().unshare(CLONE_NEWNET) != 0:
        raise _fail("unshare(CLONE_NEWNET)")


def run_module(
    module: str, payload: dict[str, Any], netns: str | None = None, timeout: float = 300
) -> Any:
    """``python -m <module> <payload as JSON>`` in the calling thread's network namespace
    (or ``ip netns exec <netns>``: safe from any thread); the JSON it prints last. A
    child that fails raises RuntimeError with its stderr."""
    env = dict(os.environ, PYTHONPATH=str(SELFTESTS_DIR), PYTHONDONTWRITEBYTECODE="1")
    prefix = ["ip", "netns", "exec", netns] if netns is not None else []
    res = subprocess.run(
        [*prefix, sys.executable, "-m", module, json.dumps(payload)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        cwd="/",
        env=env,
    )
    lines = res.stdout.strip().splitlines()
    if res.returncode != 0 or not lines:
        raise RuntimeError(
            f"python -m {module} {json.dumps(payload)} exited {res.returncode}: "
            f"{res.stderr.strip()} {res.stdout.strip()}"
        )
    return json.loads(lines[-1])
