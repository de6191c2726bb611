"""A program replacing another is checked like a first attach.

net/core/dev.c (patch 4): dev_xdp_install() is where every installation
goes through, first attach and replacement alike, so the replacement is
checked against the device's features (and what it reaches, patch 6) when
its request carries XDP_FLAGS_ENFORCE_FEATURES, with or without
XDP_FLAGS_REPLACE; in native mode only (EINVAL in generic mode). Sending
the program already attached again with the flag is checked too. The flag
belongs to the request: the device does not remember that the program in
place was attached with it. A refused replacement locks nothing; an
accepted one locks the new program.

The netdevsim device advertises basic only; xdp_pass (basic) is attached
first, enforced.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    FDINFO_PROG_LOCK,
    NATIVE_ONLY,
    REDIRECT,
    XDP_FLAGS_ENFORCE_FEATURES,
    Nsim,
    ProgArrays,
    assert_lock,
    attach_accepted,
    attach_enforced,
    enforced_refused,
    lacks_message,
    reach_message,
)
from xdplib import xdp_attach
from xdplib.bpfobj import BpfObject, prog_id
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.xdp_attach import XDP_FLAGS_REPLACE, XdpMode

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
ENFORCE = XDP_FLAGS_ENFORCE_FEATURES
NATIVE = XdpMode.NATIVE
# With XDP_FLAGS_REPLACE and IFLA_XDP_EXPECTED_FD naming the old program, or a plain overwrite
REPLACE = pytest.mark.parametrize(
    "with_replace_flag", [True, False], ids=["XDP_FLAGS_REPLACE", "overwrite"]
)


def _fd(load_bpf: LoadFn, stem: str) -> int:
    return load_bpf(stem).prog_fd(stem)


def _basic_device_with_pass(nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn) -> int:
    """Advertise basic only, attach xdp_pass enforced; returns its fd."""
    nsim.advertise(BASIC, netdev_info)
    fd = _fd(load_bpf, "xdp_pass")
    attach_enforced(nsim.port, fd, "xdp_pass")
    return fd


def _replace_refused(nsim: Nsim, old_fd: int, new_fd: int, replace: bool, extack: str) -> None:
    flags, expected = (XDP_FLAGS_REPLACE, old_fd) if replace else (0, None)
    enforced_refused(nsim.port, new_fd, errno.EOPNOTSUPP, extack, NATIVE, flags, expected)
    assert_lock(new_fd, FDINFO_PROG_LOCK, None, "the refused replacement")


def _attached(nsim: Nsim, fd: int, mode: XdpMode, what: str) -> None:
    state = nsim.state()
    assert state.prog_id_for(mode) == prog_id(fd), (
        f"{what}: prog id {prog_id(fd)} should be attached in {mode} mode, {nsim.port} "
        f"reports {state}"
    )


@REPLACE
def test_enforced_replace_needing_more_is_refused(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn, with_replace_flag: bool
) -> None:
    old_fd = _basic_device_with_pass(nsim, load_bpf, netdev_info)
    new_fd = _fd(load_bpf, "xdp_redirect_map")
    _replace_refused(nsim, old_fd, new_fd, with_replace_flag, lacks_message(REDIRECT))
    _attached(nsim, old_fd, NATIVE, "after the refused replacement")


@REPLACE
def test_enforced_replace_reaching_more_is_refused(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn, with_replace_flag: bool
) -> None:
    old_fd = _basic_device_with_pass(nsim, load_bpf, netdev_info)
    chains = ProgArrays(load_bpf("xdp_tail_calls"))
    chains.insert("jmp_table", 0, "tail_redirect")
    new_fd = chains.fd("xdp_dispatch")
    _replace_refused(nsim, old_fd, new_fd, with_replace_flag, reach_message(REDIRECT))
    _attached(nsim, old_fd, NATIVE, "after the refused replacement")
    chains.assert_locks({"jmp_table": None}, "after the refused replacement")


def test_enforced_replace_the_device_can_run_is_accepted(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    old_fd = _basic_device_with_pass(nsim, load_bpf, netdev_info)
    new_fd = _fd(load_bpf, "xdp_drop")
    p = nsim.port
    xdp_attach.attach(
        p.ns.ipr,
        p.ifindex,
        new_fd,
        NATIVE,
        extra_flags=XDP_FLAGS_REPLACE | ENFORCE,
        expected_fd=old_fd,
    )
    _attached(nsim, new_fd, NATIVE, "replacing xdp_pass with xdp_drop on a basic device")
    assert_lock(new_fd, FDINFO_PROG_LOCK, BASIC, "xdp_drop after its enforced replacement")


def test_replace_without_flag_is_not_checked(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """The program in place was attached enforced; the replacing request is not."""
    old_fd = _basic_device_with_pass(nsim, load_bpf, netdev_info)
    new_fd = _fd(load_bpf, "xdp_redirect_map")
    p = nsim.port
    xdp_attach.attach(
        p.ns.ipr, p.ifindex, new_fd, NATIVE, extra_flags=XDP_FLAGS_REPLACE, expected_fd=old_fd
    )
    _attached(nsim, new_fd, NATIVE, "a replacement without XDP_FLAGS_ENFORCE_FEATURES")
    assert_lock(new_fd, FDINFO_PROG_LOCK, None, "xdp_redirect_map, replaced in unenforced")


def test_enforced_replace_in_generic_mode_is_einval(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """The flag is for native mode only: refused before anything is looked at."""
    nsim.advertise(ALL_FEATURES, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_pass"), _fd(load_bpf, "xdp_drop")
    attach_accepted(nsim.port, old_fd, XdpMode.GENERIC, what="xdp_pass, generic")
    enforced_refused(
        nsim.port, new_fd, errno.EINVAL, NATIVE_ONLY, XdpMode.GENERIC, XDP_FLAGS_REPLACE, old_fd
    )


def test_enforced_reattach_of_the_attached_program_is_checked(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """The program in place was attached without enforcement; the same program sent again
    with the flag is a native attach with enforcement like any other: the device lacks
    redirect, so it is refused."""
    nsim.advertise(BASIC, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    attach_accepted(nsim.port, fd, NATIVE, what="xdp_redirect_map, not enforced")
    enforced_refused(nsim.port, fd, errno.EOPNOTSUPP, lacks_message(REDIRECT))


def test_enforced_reattach_of_the_attached_program_locks(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """Accepted, the enforced request locks what the program reaches, as a first attach."""
    nsim.advertise(BASIC, netdev_info)
    chains = ProgArrays(load_bpf("xdp_tail_calls"))
    fd = chains.fd("xdp_dispatch")
    attach_accepted(nsim.port, fd, NATIVE, what="xdp_dispatch, not enforced")
    attach_enforced(nsim.port, fd, "xdp_dispatch again")
    chains.assert_locks({"jmp_table": BASIC}, "after the enforced attach of the same program")
    chains.insert_refused("jmp_table", 0, "tail_redirect")
