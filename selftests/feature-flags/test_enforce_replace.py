"""A program replacing another is checked like a first attach.

net/core/dev.c (patch 4): dev_xdp_install() is where every installation
goes through, first attach and replacement alike, so the replacement is
checked against the device's features when its request carries
XDP_FLAGS_ENFORCE_FEATURES. The flag belongs to the request: the device
does not remember that the program in place was attached with it.

The netdevsim device advertises basic only; xdp_pass (basic) is attached
first.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from ffcommon import (
    BASIC,
    REDIRECT,
    XDP_FLAGS_ENFORCE_FEATURES,
    Nsim,
    attach_accepted,
    lacks_message,
    refused,
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


def _fd(load_bpf: LoadFn, stem: str) -> int:
    return load_bpf(stem).prog_fd(stem)


def _basic_device_with_pass(nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn) -> int:
    """Advertise basic only, attach xdp_pass enforced; returns its fd."""
    nsim.advertise(BASIC, netdev_info)
    fd = _fd(load_bpf, "xdp_pass")
    attach_accepted(nsim.port, fd, NATIVE, ENFORCE, what="xdp_pass, enforced")
    return fd


def test_enforced_replace_needing_more_is_refused(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    old_fd = _basic_device_with_pass(nsim, load_bpf, netdev_info)
    new_fd = _fd(load_bpf, "xdp_redirect_map")
    p = nsim.port
    refused(
        p,
        lambda: xdp_attach.attach(
            p.ns.ipr,
            p.ifindex,
            new_fd,
            NATIVE,
            extra_flags=XDP_FLAGS_REPLACE | ENFORCE,
            expected_fd=old_fd,
        ),
        errno.EOPNOTSUPP,
        lacks_message(REDIRECT),
    )
    state = nsim.state()
    assert state.drv_prog_id == prog_id(old_fd), (
        f"the refused replacement must leave xdp_pass (id {prog_id(old_fd)}) attached, "
        f"{p} reports {state}"
    )


def test_enforced_overwrite_needing_more_is_refused(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """Without XDP_FLAGS_REPLACE a new program overwrites the old one: checked too."""
    old_fd = _basic_device_with_pass(nsim, load_bpf, netdev_info)
    new_fd = _fd(load_bpf, "xdp_redirect_map")
    p = nsim.port
    refused(
        p,
        lambda: xdp_attach.attach(p.ns.ipr, p.ifindex, new_fd, NATIVE, extra_flags=ENFORCE),
        errno.EOPNOTSUPP,
        lacks_message(REDIRECT),
    )
    state = nsim.state()
    assert state.drv_prog_id == prog_id(old_fd), (
        f"the refused overwrite must leave xdp_pass (id {prog_id(old_fd)}) attached, "
        f"{p} reports {state}"
    )


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
    state = nsim.state()
    assert state.drv_prog_id == prog_id(new_fd), (
        f"replacing xdp_pass with xdp_drop (basic) on a basic device should install "
        f"xdp_drop (id {prog_id(new_fd)}), {p} reports {state}"
    )


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
    state = nsim.state()
    assert state.drv_prog_id == prog_id(new_fd), (
        f"a replacement without XDP_FLAGS_ENFORCE_FEATURES is not checked: xdp_redirect_map "
        f"(id {prog_id(new_fd)}) should be attached, {p} reports {state}"
    )


def test_enforced_replace_in_generic_mode_is_not_checked(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(0, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_pass"), _fd(load_bpf, "xdp_redirect_map")
    p = nsim.port
    attach_accepted(p, old_fd, XdpMode.GENERIC, ENFORCE, what="xdp_pass, generic, enforced")
    xdp_attach.attach(
        p.ns.ipr,
        p.ifindex,
        new_fd,
        XdpMode.GENERIC,
        extra_flags=XDP_FLAGS_REPLACE | ENFORCE,
        expected_fd=old_fd,
    )
    state = nsim.state()
    assert state.skb_prog_id == prog_id(new_fd), (
        f"generic mode is never checked: xdp_redirect_map (id {prog_id(new_fd)}) should "
        f"replace xdp_pass, {p} reports {state}"
    )
