"""Waiting for the kernel by polling what it reports, never by sleeping a fixed time.

Frames a program drops, or a kthread processes later, leave nothing to wait
for but counters: ``wait_until`` polls a reading until it is what the test
expects; ``settle`` polls until it has stopped changing, so that late
arrivals (a frame counted twice, a second stage that runs once more) show
up in the value returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .traffic import ARRIVAL_TIMEOUT, SILENCE_TIMEOUT

T = TypeVar("T")

POLL_INTERVAL = 0.05


def wait_until(read: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Poll ``read()`` until ``done(value)`` or ``timeout`` seconds; the last value."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
        value = read()
    return value


def settle(
    read: Callable[[], T],
    quiet: float = SILENCE_TIMEOUT,
    timeout: float = ARRIVAL_TIMEOUT + SILENCE_TIMEOUT,
    what: str = "the reading",
) -> T:
    """Poll ``read()`` until its value stayed the same for ``quiet`` seconds; that value.

    AssertionError if it still changes after ``timeout`` seconds."""
    deadline = time.monotonic() + max(timeout, quiet)
    value = read()
    since = time.monotonic()
    while True:
        now = time.monotonic()
        if now - since >= quiet:
            return value
        if now >= deadline:
            raise AssertionError(f"{what} did not settle in {timeout:.1f}s; last: {value}")
        time.sleep(POLL_INTERVAL)
        fresh = read()
        if fresh != value:
            value, since = fresh, time.monotonic()


def wait_settled(
    read: Callable[[], T], expected: T, timeout: float = ARRIVAL_TIMEOUT, what: str = "reading"
) -> T:
    """Poll until ``read()`` equals ``expected`` (or ``timeout``), then until it is stable;
    the final value, which differs from ``expected`` if the kernel did not get there or
    went past it."""
    value = wait_until(read, lambda v: v == expected, timeout)
    if value != expected:
        return value
    return settle(read, what=what)
