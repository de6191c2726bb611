"""Guest tests that are meant to break the run: `harness proofs` boots one guest per
test and checks that the harness ends each run as it should (exit code, splat named,
console kept). No series lists this suite, so no other command runs it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

LKDTM = Path("/sys/kernel/debug/provoke-crash/DIRECT")


def _provoke(what: str) -> None:
    if not LKDTM.exists():
        pytest.fail(f"{LKDTM} is missing: this kernel has no CONFIG_LKDTM (use --debug-config)")
    LKDTM.write_text(what + "\n")


def test_warning() -> None:
    """A kernel WARNING: the test itself passes, the splat fails the run."""
    _provoke("WARNING")


def test_panic() -> None:
    """A kernel panic: the guest dies mid-test."""
    _provoke("PANIC")
    time.sleep(60)  # not reached: the kernel is gone
    pytest.fail("the kernel did not panic")


def test_hang() -> None:
    """A test that never ends: the run's timeout must stop the guest."""
    while True:
        time.sleep(3600)
