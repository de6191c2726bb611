"""KVM or TCG: use KVM where it really works, fall back to TCG with one warning.

/dev/kvm existing is not enough: on nested setups a guest stops at once with
"KVM internal error" or crawls. A short time-boxed boot decides, once per host
boot, and the decision is recorded in every result.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import InfraError

PROBE_TIMEOUT = 40.0  # a working KVM boots to userspace in a few seconds
FIRST_OUTPUT = 10.0  # the kernel banner shows within ~1 s even under TCG


@dataclass(frozen=True)
class AccelDecision:
    accel: str  # "kvm" or "tcg"
    reason: str
    probe_seconds: float | None = None


def host_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def kvm_device_usable(dev: Path = Path("/dev/kvm")) -> bool:
    return dev.exists() and os.access(dev, os.R_OK | os.W_OK)


def decide(
    requested: str,
    probe: Callable[[], tuple[bool, float, str]],
    cache_file: Path,
    kvm_usable: Callable[[], bool] = kvm_device_usable,
) -> AccelDecision:
    """requested: auto|kvm|tcg. probe() boots once with KVM: (ok, seconds, detail)."""
    if requested == "tcg":
        return AccelDecision("tcg", "requested with --accel tcg")
    if not kvm_usable():
        if requested == "kvm":
            raise InfraError(
                "--accel kvm: /dev/kvm is missing or not accessible",
                "load kvm_intel/kvm_amd, add yourself to the kvm group, or use --accel tcg",
            )
        return AccelDecision("tcg", "/dev/kvm missing or not accessible")
    if requested == "kvm":
        return AccelDecision("kvm", "requested with --accel kvm")
    boot_id = host_boot_id()
    if cache_file.exists():
        try:
            cached = json.loads(cache_file.read_text())
            if cached.get("boot_id") == boot_id:
                return AccelDecision(**cached["decision"])
        except (ValueError, KeyError, TypeError):
            pass
    ok, seconds, detail = probe()
    if ok:
        decision = AccelDecision("kvm", f"probe boot with KVM took {seconds:.1f}s", seconds)
    else:
        decision = AccelDecision("tcg", f"KVM probe failed: {detail}", seconds)
    # Remember the verdict for this host boot only when it is about KVM itself; a
    # probe that failed for another reason (a kernel that panics) is retried next run.
    if ok or "KVM" in detail or "crawls" in detail:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps({"boot_id": boot_id, "decision": asdict(decision)}))
    return decision


def _read_some(proc: subprocess.Popen[bytes], wait: float) -> bytes | None:
    """What the process printed within ``wait`` seconds: b"" at its end, None if nothing."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], wait)
    return os.read(proc.stdout.fileno(), 65536) if ready else None


def _end_session(proc: subprocess.Popen[bytes]) -> None:
    """Kill the probe's whole session (vng and the QEMU it started) and reap vng."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def probe_with_vng(
    base_cmd: list[str], timeout: float = PROBE_TIMEOUT, first_output: float = FIRST_OUTPUT
) -> tuple[bool, float, str]:
    """Boot the kernel with KVM and run `true`. KVM works if the kernel prints its banner
    within first_output seconds and the command completes within timeout. Seen here with a
    broken nested KVM: QEMU prints nothing at all and never finishes. Whatever happens
    (a timeout, an exception, Ctrl-C), the probe's QEMU does not outlive it."""
    start = time.monotonic()
    # vng runs QEMU as a child: the whole session must go on timeout.
    proc = subprocess.Popen(
        [*base_cmd, "--exec", "true"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out = b""
        why = ""
        while True:
            elapsed = time.monotonic() - start
            banner = b"Linux version" in out
            if not banner and elapsed > first_output:
                why = f"no kernel output within {first_output:.0f}s (KVM hangs or crawls)"
                break
            if elapsed > timeout:
                why = f"no result within {timeout:.0f}s (KVM crawls)"
                break
            chunk = _read_some(proc, 0.5)
            if chunk is None:
                continue
            if not chunk:
                break
            out += chunk
            if b"KVM internal error" in out:
                text = out.decode(errors="replace")
                why = next(ln for ln in text.splitlines() if "KVM internal error" in ln).strip()
                break
        if why:
            return False, time.monotonic() - start, why
        rc = proc.wait()
    finally:
        _end_session(proc)
    seconds = time.monotonic() - start
    if rc != 0:
        lines = out.decode(errors="replace").strip().splitlines()
        detail = next((ln for ln in lines if "KVM" in ln or "error" in ln.lower()), None)
        return False, seconds, detail or f"vng exited {rc}"
    return True, seconds, "ok"
