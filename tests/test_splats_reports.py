"""splats.scan on real-shaped kernel reports as they appear on the guest console."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.splats import Splat, scan

CONSOLES = Path(__file__).parent / "consoles"


def console(name: str) -> str:
    return (CONSOLES / name).read_text()


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line containing needle."""
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def only(splats: list[Splat]) -> Splat:
    assert len(splats) == 1, [s.summary() for s in splats]
    return splats[0]


def test_warning_with_cut_here_is_one_warning() -> None:
    text = console("warning.log")
    s = only(scan(text))
    assert s.kind == "WARNING"
    assert s.line == line_of(text, "[ cut here ]")
    assert s.text.splitlines()[0].endswith("------------[ cut here ]------------")
    assert s.summary() == (
        f"WARNING at console line {s.line}: [   14.202114] WARNING: CPU: 1 PID: 412 at "
        "net/core/filter.c:4466 xdp_do_redirect+0x3c5/0x4a0"
    )


def test_warning_text_runs_to_end_trace_when_context_allows() -> None:
    text = console("warning.log")
    s = only(scan(text, context=100))
    assert s.text.splitlines()[-1].endswith("---[ end trace 0000000000000000 ]---")
    assert "left promiscuous mode" not in s.text


def test_report_longer_than_context_is_capped_and_still_counted_once() -> None:
    text = console("warning.log")
    s = only(scan(text, context=40))
    assert len(s.text.splitlines()) == 40
    assert "---[ end trace" not in s.text


def test_null_pointer_bug_and_oops_are_one_splat_then_the_panic() -> None:
    text = console("null_deref.log")
    bug, panic = scan(text)
    assert bug.kind == "BUG"
    assert bug.line == line_of(text, "BUG: kernel NULL pointer dereference")
    assert "Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI" in bug.text
    assert bug.text.splitlines()[-1].endswith("---[ end trace 0000000000000000 ]---")
    assert bug.summary() == (
        f"BUG at console line {bug.line}: [   31.560117] BUG: kernel NULL pointer dereference,"
        " address: 0000000000000010"
    )
    assert panic.kind == "panic"
    assert panic.line == line_of(text, "Kernel panic - not syncing")
    assert panic.text.splitlines()[-1].endswith(
        "---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---"
    )


def test_panic_fatal_exception() -> None:
    text = console("panic_fatal_exception.log")
    s = only(scan(text))
    assert s.kind == "panic"
    assert s.line == 3
    assert s.text.splitlines() == text.splitlines()[2:]
    assert s.summary().endswith("Kernel panic - not syncing: Fatal exception")


def test_panic_with_stack_dump_ends_at_end_marker() -> None:
    text = console("panic_vfs.log")
    s = only(scan(text))
    assert s.kind == "panic"
    assert s.line == line_of(text, "Kernel panic - not syncing: VFS")
    assert "Kernel Offset: disabled" in s.text
    assert s.text.splitlines()[-1].endswith(
        "---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on "
        "unknown-block(0,0) ]---"
    )


def test_kasan_slab_use_after_free() -> None:
    text = console("kasan_slab_use_after_free.log")
    s = only(scan(text))
    assert s.kind == "KASAN"
    assert s.line == line_of(text, "BUG: KASAN: slab-use-after-free")
    assert "Read of size 8 at addr ffff88810a4c3e18 by task ksoftirqd/0/15" in s.text
    assert s.summary() == (
        f"KASAN at console line {s.line}: [   22.311210] BUG: KASAN: slab-use-after-free in "
        "veth_xdp_rcv_one+0x8e4/0x9a0"
    )


def test_ubsan_array_index_out_of_bounds() -> None:
    text = console("ubsan_array_index.log")
    s = only(scan(text))
    assert s.kind == "UBSAN"
    assert s.line == line_of(text, "[ cut here ]")
    assert "index 4 is out of range for type 'struct veth_rq [4]'" in s.text
    assert s.text.splitlines()[-1].endswith("---[ end trace ]---")
    assert "left promiscuous mode" not in s.text
    assert "UBSAN: array-index-out-of-bounds in drivers/net/veth.c:1214:23" in s.summary()


def test_lockdep_circular_dependency() -> None:
    text = console("lockdep_circular.log")
    s = only(scan(text))
    assert s.kind == "lockdep"
    assert s.line == line_of(text, "WARNING: possible circular locking dependency detected")
    assert s.summary().endswith("WARNING: possible circular locking dependency detected")


def test_rcu_self_detected_stall() -> None:
    text = console("rcu_stall.log")
    s = only(scan(text))
    assert s.kind == "RCU stall"
    assert s.line == 2
    assert s.summary().endswith("rcu: INFO: rcu_sched self-detected stall on CPU")


def test_rcu_detected_stalls_on_tasks() -> None:
    text = (
        "[   91.002113] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
        "[   91.002700] rcu: \t1-...!: (1 GPs behind) idle=60c/0/0x1 softirq=1/1 fqs=0\n"
    )
    assert only(scan(text)).kind == "RCU stall"


def test_hung_task() -> None:
    text = console("hung_task.log")
    s = only(scan(text))
    assert s.kind == "hung task"
    assert s.line == 2
    assert "task:kworker/0:1     state:D" in s.text
    assert s.summary().endswith("INFO: task kworker/0:1:12 blocked for more than 120 seconds.")


def test_soft_lockup() -> None:
    text = console("soft_lockup.log")
    s = only(scan(text))
    assert s.kind == "soft lockup"  # not "BUG", though the line says "BUG:"
    assert s.line == 2
    assert s.summary().endswith("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [python3:388]")


@pytest.mark.parametrize(
    ("msg", "kind"),
    [
        ("------------[ cut here ]------------", "WARNING"),
        ("kernel BUG at net/core/skbuff.c:2849!", "BUG"),
        ("BUG: KFENCE: out-of-bounds read in veth_poll+0x21/0x1d0", "KFENCE"),
        (
            "Oops: general protection fault, probably for non-canonical address "
            "0xdffffc0000000002: 0000 [#1] PREEMPT SMP KASAN NOPTI",
            "Oops",
        ),
        ("watchdog: Watchdog detected hard LOCKUP on cpu 1", "hard lockup"),
        ("WARNING: suspicious RCU usage", "lockdep"),
        ("WARNING: possible recursive locking detected", "lockdep"),
        ("kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)", "kmemleak"),
        ("BUG: scheduling while atomic: python3/412/0x00000002", "BUG"),
    ],
)
def test_other_headlines(msg: str, kind: str) -> None:
    s = only(scan(f"[    5.000001] {msg}\n"))
    assert s.kind == kind
