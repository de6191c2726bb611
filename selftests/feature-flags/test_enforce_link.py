"""XDP_FLAGS_ENFORCE_FEATURES on bpf_link attachments.

net/core/dev.c (patch 4): dev_xdp_attach() lets a link carry the flag next
to the mode flags; bpf_xdp_link_attach() and bpf_xdp_link_update() both
install through dev_xdp_install() with the link's flags, so a link created
with enforcement checks its first program, what it reaches (patch 6), and
every update. The flag is for native mode only (EINVAL with
XDP_FLAGS_SKB_MODE). BPF_LINK_CREATE and BPF_LINK_UPDATE return only the
errno; the extack of a refusal goes to the xdp:bpf_xdp_link_attach_failed
tracepoint (for BPF_LINK_UPDATE since the review of v2). Like a netlink
attach, a link locks the program and the prog_arrays it reaches once its
program is installed, and only then.

Links are created with libbpf's bpf_link_create(prog_fd, ifindex, BPF_XDP,
opts) and closed (detached) at teardown, before the device is cleaned up.
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
    NsimLinkFn,
    ProgArrays,
    assert_lock,
    bpf_refused,
    describe,
    lacks_message,
    link_failure_messages,
    reach_message,
)
from xdplib import xdp_attach
from xdplib.bpfobj import BpfObject, prog_id
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.tracefs import TraceInstance
from xdplib.xdp_attach import XdpMode

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
ENFORCE = XDP_FLAGS_ENFORCE_FEATURES
DRV = XdpMode.NATIVE.flag


def _fd(load_bpf: LoadFn, stem: str) -> int:
    return load_bpf(stem).prog_fd(stem)


def _attached(nsim: Nsim, fd: int, mode: XdpMode, what: str) -> None:
    state = nsim.state()
    assert state.attached == mode.attached and state.prog_id_for(mode) == prog_id(fd), (
        f"{what}: expected prog {prog_id(fd)} attached in {mode} mode, {nsim.port} reports {state}"
    )


def _nothing_attached(nsim: Nsim, what: str) -> None:
    state = nsim.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, f"{what}: {nsim.port} reports {state}"


def _refused_with_trace(
    call: Callable[[], object], trace: TraceInstance, code: int, errmsg: str, what: str
) -> None:
    """A link create or update that must fail with ``code``, its extack (exactly
    ``errmsg``) in one xdp:bpf_xdp_link_attach_failed event."""
    bpf_refused(call, code, what)
    messages = link_failure_messages(trace)
    assert messages == [errmsg], (
        f"{what}: expected one xdp:bpf_xdp_link_attach_failed with errmsg {errmsg!r}, "
        f"got {messages}"
    )


def _link_refused(
    nsim_link: NsimLinkFn, fd: int, trace: TraceInstance, errmsg: str, what: str
) -> None:
    """An enforced native link that must fail with EOPNOTSUPP and exactly ``errmsg``."""
    _refused_with_trace(lambda: nsim_link(fd, ENFORCE | DRV), trace, errno.EOPNOTSUPP, errmsg, what)


@pytest.fixture
def chains(load_bpf: LoadFn) -> ProgArrays:
    return ProgArrays(load_bpf("xdp_tail_calls"))


def test_enforced_link_refused_on_device_lacking_features(
    nsim: Nsim,
    nsim_link: NsimLinkFn,
    load_bpf: LoadFn,
    netdev_info: InfoFn,
    link_attach_failed_trace: TraceInstance,
) -> None:
    nsim.advertise(BASIC, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    _link_refused(
        nsim_link,
        fd,
        link_attach_failed_trace,
        lacks_message(REDIRECT),
        f"an enforced link of xdp_redirect_map on a device advertising {describe(BASIC)}",
    )
    _nothing_attached(nsim, "after the refused link")
    assert_lock(fd, FDINFO_PROG_LOCK, None, "xdp_redirect_map after its refused link")


def test_enforced_link_accepted_and_locks_the_program(
    nsim: Nsim, nsim_link: NsimLinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(ALL_FEATURES, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    link = nsim_link(fd, ENFORCE | DRV)
    _attached(nsim, fd, XdpMode.NATIVE, "enforced link of xdp_redirect_map, all features")
    assert_lock(fd, FDINFO_PROG_LOCK, ALL_FEATURES, "xdp_redirect_map behind an enforced link")
    link.close()
    _nothing_attached(nsim, "closing the only link fd should detach it")


def test_link_without_flag_is_not_checked(
    nsim: Nsim, nsim_link: NsimLinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    nsim_link(fd, DRV)
    _attached(nsim, fd, XdpMode.NATIVE, "link of xdp_redirect_map without enforcement")
    assert_lock(fd, FDINFO_PROG_LOCK, None, "xdp_redirect_map behind a link without enforcement")


def test_enforced_generic_link_is_einval(
    nsim: Nsim,
    nsim_link: NsimLinkFn,
    load_bpf: LoadFn,
    netdev_info: InfoFn,
    link_attach_failed_trace: TraceInstance,
) -> None:
    nsim.advertise(ALL_FEATURES, netdev_info)
    fd = _fd(load_bpf, "xdp_redirect_map")
    _refused_with_trace(
        lambda: nsim_link(fd, ENFORCE | XdpMode.GENERIC.flag),
        link_attach_failed_trace,
        errno.EINVAL,
        NATIVE_ONLY,
        "an enforced generic link",
    )
    _nothing_attached(nsim, "after the refused generic link")
    nsim_link(fd, XdpMode.GENERIC.flag)
    _attached(nsim, fd, XdpMode.GENERIC, "generic link without the flag")


def test_enforced_link_refused_for_tail_call_target_locks_nothing(
    nsim: Nsim,
    nsim_link: NsimLinkFn,
    chains: ProgArrays,
    netdev_info: InfoFn,
    link_attach_failed_trace: TraceInstance,
) -> None:
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_redirect")
    fd = chains.fd("xdp_dispatch")
    _link_refused(
        nsim_link,
        fd,
        link_attach_failed_trace,
        reach_message(REDIRECT),
        "an enforced link of xdp_dispatch reaching tail_redirect, on a basic-only device",
    )
    _nothing_attached(nsim, "after the refused link")
    chains.assert_locks({"jmp_table": None}, "after the refused link")
    assert_lock(fd, FDINFO_PROG_LOCK, None, "xdp_dispatch after its refused link")
    chains.insert_accepted("jmp_table", 1, "tail_redirect")


def test_enforced_link_update_needing_more_is_refused(
    nsim: Nsim,
    nsim_link: NsimLinkFn,
    load_bpf: LoadFn,
    netdev_info: InfoFn,
    link_attach_failed_trace: TraceInstance,
) -> None:
    nsim.advertise(BASIC, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_pass"), _fd(load_bpf, "xdp_redirect_map")
    link = nsim_link(old_fd, ENFORCE | DRV)
    _refused_with_trace(
        lambda: link.update(new_fd),
        link_attach_failed_trace,
        errno.EOPNOTSUPP,
        lacks_message(REDIRECT),
        "updating an enforced link to xdp_redirect_map on a basic-only device",
    )
    _attached(nsim, old_fd, XdpMode.NATIVE, "after the refused link update")
    assert_lock(new_fd, FDINFO_PROG_LOCK, None, "xdp_redirect_map, refused by the link update")


def test_enforced_link_update_refused_for_tail_call_target_locks_nothing(
    nsim: Nsim,
    nsim_link: NsimLinkFn,
    load_bpf: LoadFn,
    chains: ProgArrays,
    netdev_info: InfoFn,
    link_attach_failed_trace: TraceInstance,
) -> None:
    nsim.advertise(BASIC, netdev_info)
    old_fd = _fd(load_bpf, "xdp_pass")
    link = nsim_link(old_fd, ENFORCE | DRV)
    chains.insert("jmp_table", 0, "tail_redirect")
    new_fd = chains.fd("xdp_dispatch")
    _refused_with_trace(
        lambda: link.update(new_fd),
        link_attach_failed_trace,
        errno.EOPNOTSUPP,
        reach_message(REDIRECT),
        "updating an enforced link to xdp_dispatch, which reaches tail_redirect",
    )
    _attached(nsim, old_fd, XdpMode.NATIVE, "after the refused link update")
    chains.assert_locks({"jmp_table": None}, "after the refused link update")
    chains.insert_accepted("jmp_table", 1, "tail_redirect")


def test_enforced_link_update_the_device_can_run_is_accepted_and_locked(
    nsim: Nsim, nsim_link: NsimLinkFn, load_bpf: LoadFn, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    old_fd = _fd(load_bpf, "xdp_pass")
    link = nsim_link(old_fd, ENFORCE | DRV)
    new_fd = chains.fd("xdp_dispatch")
    link.update(new_fd, old_prog_fd=old_fd)
    _attached(nsim, new_fd, XdpMode.NATIVE, "after updating the enforced link to xdp_dispatch")
    assert_lock(new_fd, FDINFO_PROG_LOCK, BASIC, "xdp_dispatch after the enforced link update")
    chains.assert_locks({"jmp_table": BASIC}, "after the enforced link update")
    chains.insert_refused("jmp_table", 0, "tail_redirect")


def test_link_update_without_flag_is_not_checked(
    nsim: Nsim, nsim_link: NsimLinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_pass"), _fd(load_bpf, "xdp_redirect_map")
    link = nsim_link(old_fd, DRV)
    link.update(new_fd)
    _attached(nsim, new_fd, XdpMode.NATIVE, "after updating a link created without enforcement")


def test_enforced_link_update_refused_after_features_drop(
    nsim: Nsim, nsim_link: NsimLinkFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """The update is checked against what the device advertises now, not at link creation."""
    nsim.advertise(ALL_FEATURES, netdev_info)
    old_fd, new_fd = _fd(load_bpf, "xdp_redirect_map"), _fd(load_bpf, "xdp_pass")
    link = nsim_link(old_fd, ENFORCE | DRV)
    nsim.advertise(REDIRECT, netdev_info)
    bpf_refused(
        lambda: link.update(new_fd),
        errno.EOPNOTSUPP,
        "updating to xdp_pass (basic) after the device dropped basic",
    )
    _attached(nsim, old_fd, XdpMode.NATIVE, "after the refused link update")
