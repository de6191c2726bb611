"""run_vms: several fake VMs side by side, each with its own console, deadlines and
result; one that hangs is killed while the others finish; nothing outlives an error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers import gone_within, kill_if_alive, script

from harness.vm import GUEST_DONE, GUEST_START, VmJob, run_vms


def _vm(path: Path, body: str) -> Path:
    return script(path, 'echo "[    0.000000] Linux version 6.12.117"\n' + body)


def test_vms_run_side_by_side_each_with_its_own_result(tmp_path: Path) -> None:
    slow = _vm(tmp_path / "slow", f'echo "{GUEST_START}"\nsleep 1.5\necho "{GUEST_DONE}1"\n')
    fast = _vm(tmp_path / "fast", f'echo "{GUEST_START}"\nsleep 0.2\necho "{GUEST_DONE}0"\n')
    lines: dict[str, list[str]] = {"slow": [], "fast": []}
    jobs = [
        VmJob([str(slow)], tmp_path / "slow.log", 10, 20, lines["slow"].append),
        VmJob([str(fast)], tmp_path / "fast.log", 10, 20, lines["fast"].append),
    ]
    start = time.monotonic()
    first, second = run_vms(jobs)
    took = time.monotonic() - start
    assert took < 1.5 + 1.2, "the VMs ran one after the other"
    assert (first.console, first.pytest_exit) == (tmp_path / "slow.log", 1)
    assert (second.console, second.pytest_exit) == (tmp_path / "fast.log", 0)
    assert second.total_seconds < first.total_seconds  # each timed to its own end
    assert f"{GUEST_DONE}1" in (tmp_path / "slow.log").read_text()
    assert f"{GUEST_DONE}1" not in (tmp_path / "fast.log").read_text()
    assert lines["fast"][-1] == f"{GUEST_DONE}0"
    assert lines["slow"][-1] == f"{GUEST_DONE}1"


def test_a_hung_vm_is_killed_at_its_timeout_the_other_finishes(tmp_path: Path) -> None:
    pidfile = tmp_path / "hung.pid"
    hung = _vm(tmp_path / "hung", f'echo "{GUEST_START}"\nsleep 60 &\necho $! > {pidfile}\nwait\n')
    fine = _vm(tmp_path / "fine", f'echo "{GUEST_START}"\nsleep 2\necho "{GUEST_DONE}0"\n')
    start = time.monotonic()
    a, b = run_vms(
        [
            VmJob([str(hung)], tmp_path / "hung.log", 10, 1.0),
            VmJob([str(fine)], tmp_path / "fine.log", 10, 20),
        ]
    )
    child = int(pidfile.read_text())
    try:
        assert time.monotonic() - start < 5
        assert a.timed_out == "run"
        assert a.total_seconds < b.total_seconds
        assert "[harness] VM killed: run timeout" in (tmp_path / "hung.log").read_text()
        assert gone_within(child, 2.0), "the hung VM's child survived"
        assert b.timed_out is None
        assert b.guest_finished
        assert b.pytest_exit == 0
    finally:
        kill_if_alive(child)


def test_an_error_in_one_vms_console_kills_every_vm(tmp_path: Path) -> None:
    pids = [tmp_path / "a.pid", tmp_path / "b.pid"]
    vms = [
        _vm(tmp_path / f"vm{i}", f'sleep 60 &\necho $! > {pid}\necho "{GUEST_START}"\nwait\n')
        for i, pid in enumerate(pids)
    ]

    def on_line(line: str) -> None:
        if GUEST_START in line and all(p.exists() and p.read_text().strip() for p in pids):
            raise KeyboardInterrupt

    jobs = [VmJob([str(v)], tmp_path / f"{v.name}.log", 30, 60, on_line) for v in vms]
    with pytest.raises(KeyboardInterrupt):
        run_vms(jobs, poll=0.1)
    children = [int(p.read_text()) for p in pids]
    try:
        for child in children:
            assert gone_within(child, 2.0), "a VM survived an error in run_vms"
    finally:
        for child in children:
            kill_if_alive(child)
