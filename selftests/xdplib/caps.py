"""Run a small action in a child process that lacks one capability.

The child is a fresh interpreter (no fork of the threaded test process) that
removes the capability from its bounding, inheritable, permitted and
effective sets with prctl(2)/capset(2) through ctypes, checks in
/proc/self/status that it is gone, then writes a value to a file and
reports the outcome (``ok`` or the errno) on stdout.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CAP_NET_ADMIN = 12

_CHILD = r"""
import ctypes, errno, os, sys

cap, path, value = int(sys.argv[1]), sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
PR_CAPBSET_DROP = 24
LINUX_CAPABILITY_VERSION_3 = 0x20080522

class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]

if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
    sys.exit(f"prctl(PR_CAPBSET_DROP, {cap}): {os.strerror(ctypes.get_errno())}")
hdr = Header(LINUX_CAPABILITY_VERSION_3, 0)
data = (Data * 2)()
if libc.capget(ctypes.byref(hdr), data) != 0:
    sys.exit(f"capget: {os.strerror(ctypes.get_errno())}")
word, bit = divmod(cap, 32)
for field in ("effective", "permitted", "inheritable"):
    setattr(data[word], field, getattr(data[word], field) & ~(1 << bit))
if libc.capset(ctypes.byref(hdr), data) != 0:
    sys.exit(f"capset: {os.strerror(ctypes.get_errno())}")
status = open("/proc/self/status").read()
eff = int(next(l for l in status.splitlines() if l.startswith("CapEff:")).split()[1], 16)
if eff & (1 << cap):
    sys.exit(f"capability {cap} still effective: CapEff {eff:#x}")
try:
    with open(path, "w") as f:
        f.write(value)
except OSError as e:
    print(f"errno {e.errno} {errno.errorcode.get(e.errno, '?')}")
else:
    print("ok")
"""


@dataclass(frozen=True)
class WriteOutcome:
    ok: bool
    errno: int | None
    text: str


def write_without_capability(cap: int, path: Path, value: str) -> WriteOutcome:
    """Write ``value`` to ``path`` from a child that lacks capability ``cap``."""
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, str(cap), str(path), value],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    out = res.stdout.strip()
    if res.returncode != 0:
        raise RuntimeError(
            f"the child dropping capability {cap} failed ({res.returncode}): "
            f"{res.stderr.strip() or out}"
        )
    if out == "ok":
        return WriteOutcome(True, None, out)
    if out.startswith("errno "):
        return WriteOutcome(False, int(out.split()[1]), out)
    raise RuntimeError(f"unexpected output from the child: {out!r}")
