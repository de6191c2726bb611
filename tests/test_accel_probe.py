"""probe_with_vng against fake vng commands (small shell scripts)."""

from __future__ import annotations

import time
from pathlib import Path

from helpers import gone_within, kill_if_alive, script

from harness.accel import probe_with_vng


def test_success(tmp_path: Path) -> None:
    args = tmp_path / "args"
    vng = script(tmp_path / "vng", f'echo "$@" > {args}\necho "[    0.5] Linux version 6.12"\n')
    ok, seconds, detail = probe_with_vng([str(vng), "--run", "bzImage"], timeout=10)
    assert (ok, detail) == (True, "ok")
    assert 0 <= seconds < 10
    assert args.read_text().split() == ["--run", "bzImage", "--exec", "true"]


def test_kvm_internal_error_is_the_reason(tmp_path: Path) -> None:
    vng = script(
        tmp_path / "vng",
        'echo "[    0.000000] Linux version 6.12.117"\n'
        'echo "KVM internal error. Suberror: 1" >&2\n'
        'echo "emulation failure" >&2\n'
        'echo "RAX=0000000000000000 RBX=0000000000000000" >&2\n'
        "exit 1\n",
    )
    ok, _, detail = probe_with_vng([str(vng)], timeout=10)
    assert not ok
    assert detail == "KVM internal error. Suberror: 1"


def test_silent_failure_names_the_exit_status(tmp_path: Path) -> None:
    vng = script(tmp_path / "vng", "echo booting\nexit 3\n")
    assert probe_with_vng([str(vng)], timeout=10)[::2] == (False, "vng exited 3")


def test_timeout_reported_quickly(tmp_path: Path) -> None:
    vng = script(tmp_path / "vng", "echo booting\nexec sleep 30\n")
    start = time.monotonic()
    ok, seconds, detail = probe_with_vng([str(vng)], timeout=1)
    assert time.monotonic() - start < 5
    assert not ok
    assert 1 <= seconds < 5
    assert detail == "no result within 1s (KVM crawls)"


def test_timeout_kills_the_whole_vm(tmp_path: Path) -> None:
    # vng forks QEMU and waits for it: a timed-out probe must not leave QEMU running.
    pidfile = tmp_path / "qemu.pid"
    vng = script(tmp_path / "vng", f"sleep 30 &\necho $! > {pidfile}\nwait\n")
    ok, _, _ = probe_with_vng([str(vng)], timeout=0.5)
    assert not ok
    qemu = int(pidfile.read_text())
    try:
        assert gone_within(qemu, 1.0), "the probe's child process survived the timeout"
    finally:
        kill_if_alive(qemu)


def test_silent_hang_fails_fast_without_waiting_for_the_whole_timeout(tmp_path: Path) -> None:
    # What a broken nested KVM looks like here: QEMU prints nothing and never ends.
    vng = script(tmp_path / "vng", "sleep 30\n")
    ok, seconds, detail = probe_with_vng([str(vng)], timeout=20, first_output=1)
    assert not ok
    assert seconds < 5, f"probe should give up after 1s without output, took {seconds:.1f}s"
    assert detail == "no kernel output within 1s (KVM hangs or crawls)"
