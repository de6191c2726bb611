"""selftests/xdplib's waiting and refusal helpers, on the host (no VM): polling
instead of fixed sleeps, and refused requests named by errno and extack."""

from __future__ import annotations

import errno
import itertools
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from pyroute2 import NetlinkError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "selftests"))

from xdplib import poll, refusals


def test_wait_until_stops_at_the_first_reading_that_is_done() -> None:
    readings = iter([1, 2, 3, 4])
    assert poll.wait_until(lambda: next(readings), lambda v: v >= 3, timeout=5) == 3
    assert next(readings) == 4  # no reading after the one that was done


def test_wait_until_gives_the_last_reading_at_the_timeout() -> None:
    counter = itertools.count()
    assert poll.wait_until(lambda: next(counter), lambda v: v < 0, timeout=0.2) > 0


def test_settle_waits_for_the_reading_to_stop_changing() -> None:
    readings = iter([1, 2, 3])
    assert poll.settle(lambda: next(readings, 3), quiet=0.2, timeout=5) == 3


def test_settle_fails_on_a_reading_that_keeps_changing() -> None:
    counter = itertools.count()
    with pytest.raises(AssertionError, match=r"counter did not settle in 0\.3s"):
        poll.settle(lambda: next(counter), quiet=0.2, timeout=0.3, what="counter")


def _refuse(code: int, extack: str) -> None:
    raise NetlinkError(code, extack)


def test_expect_errno_names_both_errnos() -> None:
    with pytest.raises(AssertionError, match="attach: expected EINVAL, got EBUSY"):
        refusals.expect_errno(lambda: _refuse(errno.EBUSY, "busy"), errno.EINVAL, "attach")
    with pytest.raises(AssertionError, match="attach: expected EINVAL, the request succeeded"):
        refusals.expect_errno(lambda: None, errno.EINVAL, "attach")


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A port whose XDP state is what ``state[0]`` says when queried."""
    state = ["prog 7"]
    monkeypatch.setattr(refusals.xdp_attach, "query", lambda ipr, ifindex: state[0])
    return SimpleNamespace(ns=SimpleNamespace(ipr=None), ifindex=3, state=state)


def test_xdp_refused_matches_the_extack_exactly_or_in_part(port: SimpleNamespace) -> None:
    def request() -> None:
        _refuse(errno.EOPNOTSUPP, "device lacks XDP_REDIRECT")

    err = refusals.xdp_refused(port, request, errno.EOPNOTSUPP, "device lacks XDP_REDIRECT")
    assert err.code == errno.EOPNOTSUPP
    refusals.xdp_refused(port, request, errno.EOPNOTSUPP, "XDP_REDIRECT", exact=False)
    with pytest.raises(AssertionError, match="expected extack 'XDP_REDIRECT'"):
        refusals.xdp_refused(port, request, errno.EOPNOTSUPP, "XDP_REDIRECT")


def test_xdp_refused_fails_when_the_refusal_changed_the_device(port: SimpleNamespace) -> None:
    def request() -> None:
        port.state[0] = "no prog"
        _refuse(errno.EINVAL, "")

    with pytest.raises(AssertionError, match="XDP state: prog 7 -> no prog"):
        refusals.xdp_refused(port, request, errno.EINVAL)
