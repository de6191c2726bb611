"""No QEMU outlives run_vm or the KVM probe, whatever interrupts them: an exception in the
console loop, Ctrl-C. The fake vng ignores SIGHUP (closing the terminal does not end it)
and starts a "QEMU" that ignores it too, as a real one may."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from helpers import DRY_RUN, built_stack, gone_within, kill_if_alive, make_series, script

from harness import accel, cli, hostdeps
from harness.vm import GUEST_START, run_vm


def stubborn_vng(tmp_path: Path) -> tuple[Path, Path]:
    """A vng that ignores SIGHUP/SIGINT/SIGTERM and runs a 'QEMU' (sleep) that does too;
    returns (vng, the file QEMU's pid is written to)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    pidfile = tmp_path / "qemu.pid"
    vng = script(
        tmp_path / "vng",
        DRY_RUN + "trap '' HUP INT TERM\n"
        f"sleep 60 &\necho $! > {pidfile}\n"
        'echo "[    0.000000] Linux version 6.12.117"\n'
        f'echo "{GUEST_START}"\n'
        "while :; do echo tick; sleep 0.2; done\n",
    )
    return vng, pidfile


def _wait_for(path: Path) -> int:
    deadline = time.monotonic() + 10
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
    return int(path.read_text())


@pytest.mark.parametrize("error", [RuntimeError("echo failed"), KeyboardInterrupt()])
def test_run_vm_kills_the_vm_when_the_console_loop_raises(
    tmp_path: Path, error: BaseException
) -> None:
    vng, pidfile = stubborn_vng(tmp_path)

    def on_line(line: str) -> None:
        if GUEST_START in line:
            raise error

    with pytest.raises(type(error)):
        run_vm([str(vng)], tmp_path / "console.log", boot_timeout=30, timeout=60, on_line=on_line)
    qemu = _wait_for(pidfile)
    try:
        assert gone_within(qemu, 2.0), "QEMU survived an exception in run_vm"
    finally:
        kill_if_alive(qemu)


def test_the_kvm_probe_kills_the_vm_on_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vng, pidfile = stubborn_vng(tmp_path)
    read_some = accel._read_some

    def interrupted(proc: object, wait: float) -> bytes | None:
        if pidfile.exists() and pidfile.read_text().strip():
            raise KeyboardInterrupt
        return read_some(proc, wait)  # type: ignore[arg-type]

    monkeypatch.setattr(accel, "_read_some", interrupted)
    with pytest.raises(KeyboardInterrupt):
        accel.probe_with_vng([str(vng)], timeout=30, first_output=30)
    qemu = _wait_for(pidfile)
    try:
        assert gone_within(qemu, 2.0), "QEMU survived Ctrl-C in the KVM probe"
    finally:
        kill_if_alive(qemu)


def test_sigterm_ends_a_run_like_ctrl_c(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kill <harness>` (a cancelled CI job): the guest is killed, QEMU with it, the
    report written, exit 3 ("interrupted"), as for Ctrl-C."""
    make_series(harness_repo, "baseline", selftests=("baseline",))
    tree, _, _ = built_stack(tmp_path, "baseline")
    vng, pidfile = stubborn_vng(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{vng.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HARNESS_REPO", str(harness_repo))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hostdeps, "check", lambda stages: None)
    monkeypatch.setattr(cli, "tools_on_path", lambda: None)  # the fake vng, not .venv's
    previous = signal.getsignal(signal.SIGTERM)

    def terminate_when_qemu_runs() -> None:
        _wait_for(pidfile)
        # and once the harness has read some console: a busy host may run the
        # guest's first lines late (after 10 s it is sent anyway: the console
        # assertion below then says what was missing)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            "tick" in c.read_text() for c in (tmp_path / "res").glob("*/console.log")
        ):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_when_qemu_runs)
    killer.start()
    try:
        code = cli.main(
            [
                "test",
                "-s",
                "baseline",
                "--kernel-tree",
                str(tree),
                "--accel",
                "tcg",
                "-j",
                "1",
                "--results-dir",
                str(tmp_path / "res"),
            ]
        )
    finally:
        killer.join()
        signal.signal(signal.SIGTERM, previous)
    qemu = _wait_for(pidfile)
    try:
        assert gone_within(qemu, 2.0), "QEMU survived SIGTERM to the harness"
    finally:
        kill_if_alive(qemu)
    assert code == 3
    (results,) = (tmp_path / "res").glob("*-baseline")
    data = json.loads((results / "results.json").read_text())
    assert data["exit_code"] == 3 and "interrupted" in data["error"]
    assert (results / "console.log").read_text().count("tick") >= 1
