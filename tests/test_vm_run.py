"""run_vm against fake VM commands: console capture, markers, boot and run timeouts."""

from __future__ import annotations

import time
from pathlib import Path

from helpers import gone_within, kill_if_alive, script

from harness.vm import GUEST_DONE, GUEST_START, run_vm

BOOT = (
    'echo "[    0.000000] Linux version 6.12.117 (harness@harness) #1 SMP PREEMPT_DYNAMIC"\n'
    'echo "[    0.311864] Run /init as init process"\n'
)


def test_full_run(tmp_path: Path) -> None:
    vng = script(
        tmp_path / "vng",
        BOOT
        + f'echo "{GUEST_START}"\n'
        + 'echo "selftests/baseline/test_veth.py::test_xdp_pass PASSED"\n'
        + 'echo "[    3.410092] veth1: entered promiscuous mode"\n'
        + f'echo "{GUEST_DONE}0"\n'
        + 'echo "[    4.000000] reboot: Power down"\n',
    )
    console = tmp_path / "console.log"
    seen: list[str] = []
    res = run_vm([str(vng)], console, boot_timeout=10, timeout=20, on_line=seen.append)
    text = console.read_text()
    for line in (
        "Linux version 6.12.117",
        "Run /init as init process",
        GUEST_START,
        "test_xdp_pass PASSED",
        "veth1: entered promiscuous mode",
        f"{GUEST_DONE}0",
        "reboot: Power down",
    ):
        assert line in text
    assert res.console == console
    assert res.guest_started
    assert res.boot_seconds is not None
    assert 0 <= res.boot_seconds <= res.total_seconds < 10
    assert res.guest_finished
    assert res.pytest_exit == 0
    assert res.timed_out is None
    assert res.exit_status == 0
    assert seen == [ln.rstrip("\r") for ln in text.splitlines()]
    assert "\r" not in "".join(seen)


def test_failed_tests_and_exit_status(tmp_path: Path) -> None:
    vng = script(tmp_path / "vng", BOOT + f'echo "{GUEST_START}"\necho "{GUEST_DONE}1"\nexit 1\n')
    res = run_vm([str(vng)], tmp_path / "console.log", boot_timeout=10, timeout=20)
    assert res.guest_finished
    assert res.pytest_exit == 1
    assert res.exit_status == 1


def test_guest_dies_before_finishing(tmp_path: Path) -> None:
    vng = script(
        tmp_path / "vng",
        BOOT
        + f'echo "{GUEST_START}"\n'
        + 'echo "[    5.1] Kernel panic - not syncing: Fatal exception"\n'
        + "exit 255\n",
    )
    res = run_vm([str(vng)], tmp_path / "console.log", boot_timeout=10, timeout=20)
    assert res.guest_started
    assert not res.guest_finished
    assert res.pytest_exit is None
    assert res.timed_out is None
    assert res.exit_status == 255


def test_killed_at_boot_timeout_console_kept(tmp_path: Path) -> None:
    vng = script(tmp_path / "vng", BOOT + "exec sleep 30\n")
    console = tmp_path / "console.log"
    start = time.monotonic()
    res = run_vm([str(vng)], console, boot_timeout=1, timeout=60)
    assert time.monotonic() - start < 4
    assert res.timed_out == "boot"
    assert not res.guest_started
    assert res.boot_seconds is None
    assert not res.guest_finished
    text = console.read_text()
    assert "Linux version 6.12.117" in text
    assert "Run /init as init process" in text
    assert "[harness] VM killed: boot timeout after" in text


def test_killed_at_run_timeout_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    vng = script(
        tmp_path / "vng",
        BOOT
        + f'echo "{GUEST_START}"\n'
        + 'echo "selftests/baseline/test_veth.py::test_hangs "\n'
        + f"sleep 60 &\necho $! > {pidfile}\nwait\n",
    )
    console = tmp_path / "console.log"
    start = time.monotonic()
    res = run_vm([str(vng)], console, boot_timeout=10, timeout=1.5)
    child = int(pidfile.read_text())
    try:
        assert time.monotonic() - start < 5
        assert res.timed_out == "run"
        assert res.guest_started
        assert not res.guest_finished
        text = console.read_text()
        assert "test_hangs" in text
        assert "[harness] VM killed: run timeout after" in text
        assert gone_within(child, 2.0), "the VM's child process survived the kill"
    finally:
        kill_if_alive(child)


def test_guest_that_does_not_power_off_is_killed_after_grace(tmp_path: Path) -> None:
    vng = script(
        tmp_path / "vng",
        BOOT + f'echo "{GUEST_START}"\necho "{GUEST_DONE}0"\nexec sleep 30\n',
    )
    console = tmp_path / "console.log"
    start = time.monotonic()
    res = run_vm([str(vng)], console, boot_timeout=10, timeout=60, shutdown_grace=0.5)
    assert time.monotonic() - start < 4
    assert res.killed_after_done
    assert res.guest_finished
    assert res.pytest_exit == 0
    assert res.timed_out is None
    assert "did not power off" in console.read_text()


def test_nothing_of_the_session_outlives_a_normal_exit(tmp_path: Path) -> None:
    pidfile = tmp_path / "helper.pid"
    vng = script(
        tmp_path / "vng",
        BOOT
        + f"sleep 60 >/dev/null 2>&1 &\necho $! > {pidfile}\n"
        + f'echo "{GUEST_START}"\necho "{GUEST_DONE}0"\n',
    )
    res = run_vm([str(vng)], tmp_path / "console.log", boot_timeout=10, timeout=20)
    helper = int(pidfile.read_text())
    try:
        assert res.exit_status == 0
        assert not res.killed_after_done
        assert gone_within(helper, 2.0), "a process of the VM's session survived"
    finally:
        kill_if_alive(helper)
