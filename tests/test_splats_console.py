"""splats.scan on whole consoles: no false positives, each report once, prefixes."""

from __future__ import annotations

import re
from pathlib import Path

from harness.splats import scan

CONSOLES = Path(__file__).parent / "consoles"
SPLAT_LOGS = (
    ("warning.log", ["WARNING"]),
    ("null_deref.log", ["BUG", "panic"]),
    ("kasan_slab_use_after_free.log", ["KASAN"]),
    ("ubsan_array_index.log", ["UBSAN"]),
    ("lockdep_circular.log", ["lockdep"]),
    ("rcu_stall.log", ["RCU stall"]),
    ("hung_task.log", ["hung task"]),
    ("soft_lockup.log", ["soft lockup"]),
    ("panic_vfs.log", ["panic"]),
)


def console(name: str) -> str:
    return (CONSOLES / name).read_text()


def test_clean_boot_has_no_splats() -> None:
    # Has "WARNING:" mitigation notes, lockdep/kmemleak/watchdog banners, rcu: lines.
    assert scan(console("clean_boot.log")) == []


def test_pytest_output_without_kernel_timestamp_is_not_a_splat() -> None:
    assert scan(console("pytest_noise.log")) == []


def test_every_report_in_a_long_console_found_once_in_order() -> None:
    parts = [console("clean_boot.log")]
    expected: list[tuple[str, int]] = []
    for name, kinds in SPLAT_LOGS:
        offset = sum(len(p.splitlines()) for p in parts)
        text = console(name)
        for s in scan(text):
            expected.append((s.kind, s.line + offset))
        assert [s.kind for s in scan(text)] == kinds
        parts.append(text)
        parts.append(console("pytest_noise.log"))
    found = scan("".join(parts))
    assert [(s.kind, s.line) for s in found] == expected
    assert len(found) == 10


def _with_caller_id(text: str) -> str:
    """Rewrite '[   14.2] msg' as printed with CONFIG_PRINTK_CALLER: '[   14.2][  T412] msg'."""
    out = []
    for i, line in enumerate(text.splitlines()):
        caller = "[    C1]" if i % 3 == 0 else "[  T412]"
        out.append(re.sub(r"^(\[\s*\d+\.\d+\])", r"\g<1>" + caller, line))
    return "\n".join(out) + "\n"


def test_caller_id_prefix() -> None:
    text = _with_caller_id(console("warning.log"))
    assert "[   14.202114][  T412] WARNING: CPU: 1 PID: 412" in text
    (s,) = scan(text)
    assert s.kind == "WARNING"
    assert s.line == 2


def test_caller_id_prefix_all_kinds() -> None:
    for name, kinds in SPLAT_LOGS:
        text = _with_caller_id(console(name))
        assert [s.kind for s in scan(text)] == kinds, name


def test_short_caller_id_as_printed_early_in_boot() -> None:
    text = "[    1.234567][    T1] BUG: unable to handle page fault for address: ffffed1020000000\n"
    (s,) = scan(text)
    assert s.kind == "BUG"


def test_crlf_console_as_captured_from_a_pty() -> None:
    text = console("ubsan_array_index.log").replace("\n", "\r\n")
    (s,) = scan(text)
    assert s.kind == "UBSAN"
    assert s.text.splitlines()[-1].endswith("---[ end trace ]---")


def test_kernel_line_mentioning_words_is_not_a_report() -> None:
    text = (
        "[    9.100000] xdp_test: no WARNING seen, no Oops seen, no panic\n"
        "[    9.100001] ACPI: BUG workaround applied for _OSC\n"
        "[    9.100002] clocksource: timekeeping watchdog on CPU1: Marking clocksource 'tsc'"
        " as unstable because the skew is too large:\n"
    )
    assert scan(text) == []


def test_report_without_end_marker_does_not_swallow_the_next_report() -> None:
    # A hung task report has no '---[ end' line; a KASAN report right after it is
    # a separate splat and must be reported (it is likely the root cause).
    hung = console("hung_task.log")
    kasan = console("kasan_slab_use_after_free.log")
    found = scan(hung + kasan)
    assert [s.kind for s in found] == ["hung task", "KASAN"]
    assert found[1].line == len(hung.splitlines()) + 3


def test_consecutive_hung_tasks_each_reported() -> None:
    hung = console("hung_task.log").splitlines()[1:]  # the report alone
    second = [ln.replace("kworker/0:1:12", "python3:412") for ln in hung]
    found = scan("\n".join(hung + second) + "\n")
    assert [s.summary().split(": ", 1)[1] for s in found] == [
        "[  245.120345] INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
        "[  245.120345] INFO: task python3:412 blocked for more than 120 seconds.",
    ]


def test_report_that_lands_mid_line_is_found() -> None:
    # The guest console interleaves pytest's output with printk: a report can start
    # right after a test's name, on the same line.
    console = (
        "selftests/baseline/test_x.py::test_a [   65.951908] ------------[ cut here ]------------\n"
        "[   65.951999] WARNING: CPU: 0 PID: 1 at net/core/dev.c:10 f+0x1/0x2\n"
        "[   65.952000] ---[ end trace 0000000000000000 ]---\n"
        "PASSED [ 55%]\n"
    )
    found = scan(console)
    assert [(s.kind, s.line) for s in found] == [("WARNING", 1)]
    assert "net/core/dev.c:10" in found[0].summary()
