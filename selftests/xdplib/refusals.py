"""Requests the kernel must refuse: the errno (named, not numbered, in failures),
the extack message, and for IFLA_XDP requests a device whose XDP state the refusal
left as it was."""

from __future__ import annotations

import errno
from collections.abc import Callable

from pyroute2 import NetlinkError

from . import xdp_attach
from .netns import Port


def errname(code: int) -> str:
    return errno.errorcode.get(code, str(code))


def expect_errno(
    call: Callable[[], object], code: int, what: str, extack: str | None = None
) -> NetlinkError:
    """Run a netlink request that must fail with ``code`` (and an extack message
    containing ``extack``); the error."""
    try:
        result = call()
    except NetlinkError as e:
        assert e.code == code, f"{what}: expected {errname(code)}, got {errname(e.code)}: {e}"
        if extack is not None:
            msg = str(e.args[1]) if len(e.args) > 1 else ""
            assert extack in msg, f"{what}: expected an extack with {extack!r}, got {msg!r}"
        return e
    raise AssertionError(f"{what}: expected {errname(code)}, the request succeeded: {result}")


def xdp_refused(
    port: Port,
    request: Callable[[], None],
    code: int,
    extack: str | None = None,
    *,
    exact: bool = True,
) -> NetlinkError:
    """Run an IFLA_XDP request that must fail with ``code`` and, given ``extack``, that
    extack message (all of it, or containing it when not ``exact``). The device's XDP
    state must be the same afterwards."""
    before = xdp_attach.query(port.ns.ipr, port.ifindex)
    err = expect_errno(request, code, f"request on {port}")
    if extack is not None:
        got = str(err.args[1]) if len(err.args) > 1 else ""
        ok = got == extack if exact else extack in got
        assert ok, f"expected extack {extack!r}, got {got!r}"
    after = xdp_attach.query(port.ns.ipr, port.ifindex)
    assert after == before, f"refused request changed {port}'s XDP state: {before} -> {after}"
    return err
