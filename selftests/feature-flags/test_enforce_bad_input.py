"""Bad input around the new flag and the netdevsim knob: refused, nothing changes.

net/core/rtnetlink.c do_setlink() refuses IFLA_XDP_FLAGS bits outside
XDP_FLAGS_MASK (which now includes XDP_FLAGS_ENFORCE_FEATURES, 1 << 5) with
EINVAL, before any fd is looked at. With the flag, bad fds still fail the
way they did (kernel/bpf/syscall.c __bpf_prog_get(): EBADF for a closed
fd, EINVAL for a non-program fd or a program of another type): no program,
nothing to check. A bpf_link takes the mode flags and the new flag only
(dev_xdp_attach(): "Invalid XDP flags for BPF link attachment").

drivers/net/netdevsim/bpf.c nsim_xdp_features_set() (patch 5): the debugfs
knob parses a number (kstrtoull, any base) and refuses bits outside
NETDEV_XDP_ACT_MASK (0x7f) with EINVAL.

The netdevsim device advertises nothing during these tests, so a feature
check that ran first would show as EOPNOTSUPP.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator

import pytest
from ffcommon import (
    BASIC,
    REDIRECT,
    RX_SG,
    XDP_FLAGS_ENFORCE_FEATURES,
    Nsim,
    enforced_refused,
    errname,
    link_failure_messages,
    refused,
    write_errno,
)
from xdplib import xdp_attach
from xdplib.bpflink import XdpLink
from xdplib.bpfobj import BpfError, BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.tracefs import TraceInstance
from xdplib.xdp_attach import (
    BOTH_MODES,
    XDP_FLAGS_REPLACE,
    XDP_FLAGS_UPDATE_IF_NOEXIST,
    XdpMode,
)

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
ENFORCE = XDP_FLAGS_ENFORCE_FEATURES
each_mode = pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
# 1 << 6: the next bit after the new flag. 1 << 31: the top bit.
UNKNOWN_BITS = pytest.mark.parametrize("bit", [1 << 6, 1 << 31], ids=["bit6", "bit31"])


@pytest.fixture
def bare_nsim(nsim: Nsim, netdev_info: InfoFn) -> Nsim:
    nsim.advertise(0, netdev_info)
    return nsim


def _closed_fd() -> int:
    """A descriptor number that is not open. Taken right before use: any fd
    opened afterwards (libbpf loading a program) could reuse the number."""
    fd = os.open("/dev/null", os.O_RDONLY)
    os.close(fd)
    return fd


@pytest.fixture
def devnull_fd() -> Iterator[int]:
    fd = os.open("/dev/null", os.O_RDONLY)
    yield fd
    os.close(fd)


@UNKNOWN_BITS
@each_mode
def test_unknown_flag_bits_are_einval(
    bare_nsim: Nsim, load_bpf: LoadFn, mode: XdpMode, bit: int
) -> None:
    p, fd = bare_nsim.port, load_bpf("xdp_pass").prog_fd("xdp_pass")
    flags = mode.flag | ENFORCE | bit
    refused(p, lambda: xdp_attach.set_xdp_fd(p.ns.ipr, p.ifindex, fd, flags), errno.EINVAL)


@each_mode
def test_closed_fd_with_enforce_is_ebadf(bare_nsim: Nsim, mode: XdpMode) -> None:
    enforced_refused(bare_nsim.port, _closed_fd(), errno.EBADF, None, mode)


@each_mode
def test_non_bpf_fd_with_enforce_is_einval(bare_nsim: Nsim, devnull_fd: int, mode: XdpMode) -> None:
    enforced_refused(bare_nsim.port, devnull_fd, errno.EINVAL, None, mode)


@each_mode
def test_map_fd_with_enforce_is_einval(bare_nsim: Nsim, load_bpf: LoadFn, mode: XdpMode) -> None:
    map_fd = load_bpf("xdp_redirect_map").map_fd("tx_port")
    enforced_refused(bare_nsim.port, map_fd, errno.EINVAL, None, mode)


@each_mode
def test_socket_filter_with_enforce_is_einval(
    bare_nsim: Nsim, load_bpf: LoadFn, mode: XdpMode
) -> None:
    """Not an XDP program (it needs no feature, 0): refused for its type, as before."""
    fd = load_bpf("not_xdp").prog_fd("sock_filter_accept_all")
    enforced_refused(bare_nsim.port, fd, errno.EINVAL, None, mode)


def test_closed_expected_fd_with_enforce_is_ebadf(bare_nsim: Nsim, load_bpf: LoadFn) -> None:
    p = bare_nsim.port
    old_fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    xdp_attach.attach(p.ns.ipr, p.ifindex, old_fd, XdpMode.NATIVE)
    new_fd = load_bpf("xdp_drop").prog_fd("xdp_drop")
    closed_fd = _closed_fd()
    enforced_refused(
        p, new_fd, errno.EBADF, None, XdpMode.NATIVE, XDP_FLAGS_REPLACE, expected_fd=closed_fd
    )


@pytest.mark.parametrize(
    "extra",
    [1 << 6, 1 << 31, XDP_FLAGS_UPDATE_IF_NOEXIST, XDP_FLAGS_REPLACE],
    ids=["bit6", "bit31", "update-if-noexist", "replace"],
)
def test_link_with_flags_beyond_modes_and_enforce_is_einval(
    bare_nsim: Nsim, load_bpf: LoadFn, link_attach_failed_trace: TraceInstance, extra: int
) -> None:
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    flags = XdpMode.NATIVE.flag | ENFORCE | extra
    with pytest.raises(BpfError) as exc:
        XdpLink(fd, bare_nsim.port.ifindex, flags).close()
    assert exc.value.errno == errno.EINVAL, f"link flags {flags:#x}: expected EINVAL, {exc.value}"
    messages = link_failure_messages(link_attach_failed_trace)
    assert messages == ["Invalid XDP flags for BPF link attachment"], (
        f"link flags {flags:#x}: expected errmsg 'Invalid XDP flags for BPF link attachment', "
        f"got {messages}"
    )
    state = bare_nsim.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, f"refused link left {state}"


@pytest.mark.parametrize(
    "text",
    ["banana\n", "0x7fz\n", "0x80\n", "0xff\n", "0x100000000\n", "0x8000000000000000\n", "-1\n"],
    ids=["word", "trailing-junk", "bit7", "0xff", "bit32", "bit63", "negative"],
)
def test_knob_refuses_garbage_and_unknown_bits(nsim: Nsim, netdev_info: InfoFn, text: str) -> None:
    before = BASIC | REDIRECT | RX_SG
    nsim.advertise(before, netdev_info)
    err = write_errno(nsim.knob, text)
    assert err == errno.EINVAL, (
        f"writing {text.strip()!r} to {nsim.knob} should fail with EINVAL, got "
        f"{errname(err) if err else 'success'}"
    )
    assert nsim.features() == before, (
        f"the refused write changed {nsim.knob} from {before:#x} to {nsim.features():#x}"
    )
    reported = netdev_info(nsim.port).xdp_features_raw
    assert reported == before, (
        f"the refused write changed the advertised features from {before:#x} to {reported:#x}"
    )
