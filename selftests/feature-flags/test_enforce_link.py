"""XDP_FLAGS_ENFORCE_FEATURES on bpf_link attachments.

net/core/dev.c (patch 4): dev_xdp_attach() lets a link carry the flag next
to the mode flags; bpf_xdp_link_attach() and bpf_xdp_link_update() both
install through dev_xdp_install() with the link's flags, so a link created
with enforcement checks its first program and every update. BPF_LINK_CREATE
returns only the errno; its extack goes to the xdp:bpf_xdp_link_attach_failed
tracepoint. BPF_LINK_UPDATE has no extack at all.

Links are created with libbpf's bpf_link_create(prog_fd, ifindex, BPF_XDP,
opts) and closed (detached) at teardown, before the device is cleaned up.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    REDIRECT,
    XDP_FLAGS_ENFORCE_FEATURES,
    Nsim,
    describe,
    lacks_message,
    link_failure_messages,
)
from xdplib import xdp_attach
from xdplib.bpflink import XdpLink
from xdplib.bpfobj import BpfError, BpfObject, prog_id
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.tracefs import TraceInstance
from xdplib.xdp_attach import XdpMode

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
LinkFn = Callable[[int, int], XdpLink]
ENFORCE = XDP_FLAGS_ENFORCE_FEATURES
DRV = XdpMode.NATIVE.flag


@pytest.fixture
def make_link(nsim: Nsim) -> Iterator[LinkFn]:
    """``make_link(prog_fd, flags)``: an XDP link on the netdevsim port, closed at teardown."""
    links: list[XdpLink] = []

    def _make(prog_fd: int, flags: int) -> XdpLink:
        link = XdpLink(prog_fd, nsim.port.ifindex, flags)
        links.append(link)
        return link

    yield _make
    for link in links:
        link.close()


def _fd(load_bpf: LoadFn, stem: str) -> int:
    return load_bpf(stem).prog_fd(stem)


def _attached(nsim: Nsim, fd: int, mode: XdpMode, what: str) -> None:
    state = nsim.state()
    assert state.attached == mode.attached and state.prog_id_for(mode) == prog_id(fd), (
        f"{what}: expected prog {prog_id(fd)} attached in {mode} mode, {nsim.port} reports {state}"
    )


def test_enforced_link_refused_on_device_lacking_features(
    nsim: Nsim,
    make_link: LinkFn,
    load_bpf: LoadFn,
    netdev_info: InfoFn,
    link_attach_failed_trace: TraceInstance,
) -> None:
    nsim.advertise(BASIC, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    with pytest.raises(BpfError) as exc:
        make_link(fd, ENFORCE | DRV)
    assert exc.value.errno == errno.EOPNOTSUPP, (
        f"an enforced link of xdp_redirect_map on a device advertising {describe(BASIC)} "
        f"should fail with EOPNOTSUPP, got {exc.value}"
    )
    messages = link_failure_messages(link_attach_failed_trace)
    assert messages == [lacks_message(REDIRECT)], (
        f"expected one xdp:bpf_xdp_link_attach_failed with errmsg {lacks_message(REDIRECT)!r}, "
        f"got {messages}"
    )
    state = nsim.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, f"refused link left {state}"


def test_enforced_link_accepted_on_capable_device(
    nsim: Nsim, make_link: LinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(ALL_FEATURES, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    link = make_link(fd, ENFORCE | DRV)
    _attached(nsim, fd, XdpMode.NATIVE, "enforced link of xdp_redirect_map, all features")
    link.close()
    state = nsim.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, (
        f"closing the only link fd should detach it, {nsim.port} reports {state}"
    )


def test_link_without_flag_is_not_checked(
    nsim: Nsim, make_link: LinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    make_link(fd, DRV)
    _attached(nsim, fd, XdpMode.NATIVE, "link of xdp_redirect_map without enforcement")


def test_enforced_generic_link_is_not_checked(
    nsim: Nsim, make_link: LinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(0, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    make_link(fd, ENFORCE | XdpMode.GENERIC.flag)
    _attached(nsim, fd, XdpMode.GENERIC, "enforced generic link, device advertising nothing")


def test_enforced_link_update_needing_more_is_refused(
    nsim: Nsim, make_link: LinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_pass"), _fd(load_bpf, "xdp_redirect_map")
    link = make_link(old_fd, ENFORCE | DRV)
    with pytest.raises(BpfError) as exc:
        link.update(new_fd)
    assert exc.value.errno == errno.EOPNOTSUPP, (
        f"updating an enforced link to xdp_redirect_map on a basic-only device should fail "
        f"with EOPNOTSUPP, got {exc.value}"
    )
    _attached(nsim, old_fd, XdpMode.NATIVE, "after the refused link update")


def test_enforced_link_update_the_device_can_run_is_accepted(
    nsim: Nsim, make_link: LinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_pass"), _fd(load_bpf, "xdp_drop")
    link = make_link(old_fd, ENFORCE | DRV)
    link.update(new_fd, old_prog_fd=old_fd)
    _attached(nsim, new_fd, XdpMode.NATIVE, "after updating the enforced link to xdp_drop")


def test_link_update_without_flag_is_not_checked(
    nsim: Nsim, make_link: LinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_pass"), _fd(load_bpf, "xdp_redirect_map")
    link = make_link(old_fd, DRV)
    link.update(new_fd)
    _attached(nsim, new_fd, XdpMode.NATIVE, "after updating a link created without enforcement")


def test_enforced_link_update_refused_after_features_drop(
    nsim: Nsim, make_link: LinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """The update is checked against what the device advertises now, not at link creation."""
    nsim.advertise(ALL_FEATURES, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_redirect_map"), _fd(load_bpf, "xdp_pass")
    link = make_link(old_fd, ENFORCE | DRV)
    nsim.advertise(REDIRECT, netdev_info)
    with pytest.raises(BpfError) as exc:
        link.update(new_fd)
    assert exc.value.errno == errno.EOPNOTSUPP, (
        f"updating to xdp_pass (basic) after the device dropped basic should fail with "
        f"EOPNOTSUPP, got {exc.value}"
    )
    _attached(nsim, old_fd, XdpMode.NATIVE, "after the refused link update")
