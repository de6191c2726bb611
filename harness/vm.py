"""Boot the built kernel in virtme-ng, capture the whole console, kill it if it hangs."""

from __future__ import annotations

import contextlib
import functools
import os
import select
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pexpect

from harness.errors import InfraError
from harness.markers import GUEST_DONE, GUEST_START

__all__ = [
    "GUEST_DONE",
    "GUEST_START",
    "Mount",
    "VmJob",
    "VmResult",
    "VmSpec",
    "run_vm",
    "run_vms",
    "vng_command",
]


TCG_QEMU_OPTS = "--qemu-opts=-accel tcg,thread=single"


@dataclass(frozen=True)
class Mount:
    """A host directory the guest sees at ``guest`` (vng --rwdir/--rodir GUEST=HOST)."""

    host: Path
    guest: str
    writable: bool


@dataclass(frozen=True)
class VmSpec:
    bzimage: Path
    accel: str  # kvm | tcg
    cpus: int = 2
    memory: str = "2G"
    mounts: tuple[Mount, ...] = ()  # host directories the guest sees (see guest_image)
    cwd: Path | None = None
    root: Path | None = None  # the guest's root filesystem (vng --root); None: the host's
    network_loop: bool = True  # two virtio NICs joined by a QEMU hub
    append: tuple[str, ...] = ("printk.time=1",)
    qemu_opts: tuple[str, ...] = ()  # extra QEMU arguments, e.g. "-icount shift=0,sleep=off"


def vng_command(spec: VmSpec, exec_cmd: str | None = None) -> list[str]:
    cmd = [
        "vng",
        "--run",
        str(spec.bzimage),
        "--verbose",
        "--disable-microvm",
        "--force-9p",
        "--cpus",
        str(spec.cpus),
        "--memory",
        spec.memory,
    ]
    if spec.accel != "kvm":
        cmd.append("--disable-kvm")
        # One host thread for every vCPU. With multi-threaded TCG (QEMU 7.2, Debian 12)
        # a vCPU sometimes runs code another one has just patched back from an int3
        # (text_poke_bp: static keys, static calls, tracepoints), and the kernel dies
        # with "Oops: int3" in whatever function was patched: seen with
        # net.core.xdp_stats and kernel.bpf_stats_enabled toggles under traffic and
        # with tracefs event disables; never with thread=single.
        cmd.append(TCG_QEMU_OPTS)
    # vng joins every --qemu-opts into QEMU's command line (one argument each, so that
    # its parser does not take "-icount" for an option of its own).
    cmd += [f"--qemu-opts={opt}" for opt in spec.qemu_opts]
    if spec.network_loop:
        cmd += ["--network", "loop"]
    if spec.root is not None:
        cmd += ["--root", str(spec.root)]
    # vng mounts every --rwdir before every --rodir, whatever their order here
    for m in spec.mounts:
        where = str(m.host) if m.guest == str(m.host) else f"{m.guest}={m.host}"
        cmd += ["--rwdir" if m.writable else "--rodir", where]
    if spec.cwd is not None:
        cmd += ["--cwd", str(spec.cwd)]
    for a in spec.append:
        cmd += ["--append", a]
    if exec_cmd is not None:
        cmd += ["--exec", exec_cmd]
    return cmd


# x86's COMMAND_LINE_SIZE, its terminating NUL included. vng puts the guest command
# (base64) into the kernel's command line; longer than this and the kernel cuts it,
# init= and all, and the guest panics at boot with nothing said about why.
CMDLINE_MAX = 2048


def kernel_cmdline(cmd: list[str]) -> str | None:
    """The kernel command line ``cmd`` (a vng command) would boot with, from
    ``vng --dry-run``; None when vng does not show it. Asked once per command:
    a run checks before it decides how to hand the tests over, and at the boot."""
    return _kernel_cmdline(tuple(cmd))


@functools.lru_cache(maxsize=32)
def _kernel_cmdline(cmd: tuple[str, ...]) -> str | None:
    try:
        proc = subprocess.run(
            [cmd[0], "--dry-run", *cmd[1:]],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        if "-append" not in line:
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if "-append" in words[:-1]:
            return words[words.index("-append") + 1]
    return None


def cmdline_fits(cmd: list[str]) -> tuple[bool, int | None]:
    """Whether the kernel command line of ``cmd`` fits (and its length, if known)."""
    line = kernel_cmdline(cmd)
    if line is None:
        return True, None
    return len(line) < CMDLINE_MAX, len(line)


def cmdline_error(length: int, what: str) -> InfraError:
    return InfraError(
        f"{what}: the guest's kernel command line would be {length} bytes, over x86's "
        f"{CMDLINE_MAX - 1}; the kernel would cut it (init= with it) and the guest would "
        "panic at boot",
        "shorter paths (repository, cache, results) or fewer kernel parameters ([vm] append)",
    )


@dataclass(frozen=True)
class VmResult:
    exit_status: int | None
    console: Path
    boot_seconds: float | None  # until the guest runner started
    total_seconds: float
    guest_started: bool
    guest_finished: bool
    pytest_exit: int | None
    timed_out: str | None  # "boot" or "run" when the VM was killed
    killed_after_done: bool = False  # tests finished but the guest did not power off


def _kill(child: pexpect.spawn) -> None:
    """Kill the whole session: vng, QEMU under it, anything they started. Idempotent."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.close(force=True)


@dataclass
class _Console:
    """What the console said so far, line by line."""

    on_line: Callable[[str], None]
    start: float
    boot_seconds: float | None = None
    finished: bool = False
    pytest_exit: int | None = None
    done_at: float | None = None
    pending: str = ""

    def feed(self, chunk: str) -> None:
        self.pending += chunk.replace("\r", "")
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if self.boot_seconds is None and GUEST_START in line:
                self.boot_seconds = time.monotonic() - self.start
            if line.startswith(GUEST_DONE):
                self.finished = True
                self.done_at = time.monotonic() - self.start
                tail = line[len(GUEST_DONE) :].strip()
                self.pytest_exit = int(tail) if tail.lstrip("-").isdigit() else None
            self.on_line(line)


def _ignore(line: str) -> None:
    pass


@dataclass(frozen=True)
class VmJob:
    """One VM to run: its command, where its console goes, its limits."""

    cmd: list[str]
    console: Path
    boot_timeout: float
    timeout: float
    on_line: Callable[[str], None] = _ignore
    shutdown_grace: float = 60.0


class _Session:
    """A running VM: its console written to its file as it comes, its deadlines."""

    def __init__(self, job: VmJob) -> None:
        self.job = job
        self.start = time.monotonic()
        self.child = pexpect.spawn(
            job.cmd[0],
            job.cmd[1:],
            encoding="utf-8",
            codec_errors="replace",
            timeout=None,
            dimensions=(50, 250),
        )
        self.con = _Console(job.on_line, self.start)
        try:
            self.file = job.console.open("w")
        except BaseException:
            _kill(self.child)
            raise
        self.timed_out: str | None = None
        self.killed_after_done = False
        self.result: VmResult | None = None

    def check(self) -> bool:
        """Enforce the deadlines; True when the session must end now."""
        job, con = self.job, self.con
        now = time.monotonic() - self.start
        if con.boot_seconds is None and now > job.boot_timeout:
            self.timed_out = "boot"
        elif now > job.timeout:
            self.timed_out = "run"
        if con.done_at is not None and now - con.done_at > job.shutdown_grace:
            self.file.write(
                f"\n[harness] guest did not power off {job.shutdown_grace:.0f}s after "
                "the tests finished: killed\n"
            )
            self.killed_after_done = True
            return True
        if self.timed_out:
            self.file.write(f"\n[harness] VM killed: {self.timed_out} timeout after {now:.0f}s\n")
            return True
        return False

    def read(self) -> bool:
        """What the console has now (without waiting); True at its end."""
        try:
            chunk = self.child.read_nonblocking(size=65536, timeout=0)
        except pexpect.TIMEOUT:
            return False
        except pexpect.EOF:
            return True
        self.file.write(chunk)
        self.file.flush()
        self.con.feed(chunk)
        return False

    def finish(self) -> VmResult:
        """The session is over: its last partial line, its exit status; nothing of it
        left running."""
        try:
            if self.con.pending:
                self.job.on_line(self.con.pending)
            self.file.close()
            if not self.timed_out and not self.killed_after_done:
                self.child.close()  # vng exited by itself: collect its status
        finally:
            self.kill()
        child, con = self.child, self.con
        status = child.exitstatus if child.exitstatus is not None else child.signalstatus
        self.result = VmResult(
            exit_status=status,
            console=self.job.console,
            boot_seconds=con.boot_seconds,
            total_seconds=time.monotonic() - self.start,
            guest_started=con.boot_seconds is not None,
            guest_finished=con.finished,
            pytest_exit=con.pytest_exit,
            timed_out=self.timed_out,
            killed_after_done=self.killed_after_done,
        )
        return self.result

    def kill(self) -> None:
        self.file.close()
        _kill(self.child)


def run_vms(jobs: Sequence[VmJob], poll: float = 1.0) -> list[VmResult]:
    """Run the VMs side by side, each as run_vm does; their results in the order of
    ``jobs``, each taken when its VM ends (its own total_seconds). A VM that hangs is
    killed at its timeout, the others go on. Whatever ends this (an exception in an
    on_line, Ctrl-C), every VM is killed: no QEMU outlives it."""
    sessions: list[_Session] = []
    try:
        for job in jobs:
            sessions.append(_Session(job))
        active = list(sessions)
        while active:
            for s in [s for s in active if s.check()]:
                active.remove(s)
                s.finish()
            if not active:
                break
            select.select([s.child.child_fd for s in active], [], [], poll)
            for s in [s for s in active if s.read()]:
                active.remove(s)
                s.finish()
    finally:
        for s in sessions:
            s.kill()
    return [s.result for s in sessions if s.result is not None]


def run_vm(
    cmd: list[str],
    console_path: Path,
    boot_timeout: float,
    timeout: float,
    on_line: Callable[[str], None] = _ignore,
    shutdown_grace: float = 60.0,
) -> VmResult:
    """Run vng, write every byte of the console to console_path, pass lines to on_line.

    The VM is killed (its whole process group) if the guest runner has not started
    within boot_timeout, or if the whole run exceeds timeout; and in any case when
    run_vm returns or raises (an exception in on_line, Ctrl-C): no QEMU outlives it."""
    (result,) = run_vms([VmJob(cmd, console_path, boot_timeout, timeout, on_line, shutdown_grace)])
    return result


def interactive(cmd: list[str]) -> int:
    """Hand the terminal to vng (harness shell)."""
    try:
        os.execvp(cmd[0], cmd)
    except OSError as exc:
        raise InfraError(f"cannot start {cmd[0]}: {exc}", "run ci/setup-host.sh") from exc
    return 0  # not reached
