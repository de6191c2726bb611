"""Bad IFLA_XDP requests get the documented errno (and extack) and change nothing.

Sources (6.12): net/core/rtnetlink.c do_setlink() (flag validation),
net/core/dev.c dev_change_xdp_fd() / dev_xdp_attach() / dev_xdp_install(),
kernel/bpf/syscall.c __bpf_prog_get() (EBADF for a closed fd, EINVAL for a
non-program fd or a program of another type), drivers/net/veth.c
veth_xdp_set() (peer MTU).

After every refusal the device must report the same XDP state as before,
and still take a valid program.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator

import pytest
from pyroute2 import NetlinkError
from xdplib import xdp_attach
from xdplib.bpfobj import BpfObject, prog_id
from xdplib.netns import NetNS, Port
from xdplib.refusals import expect_errno, xdp_refused
from xdplib.topology import VethPair
from xdplib.xdp_attach import (
    BOTH_MODES,
    XDP_FLAGS_DRV_MODE,
    XDP_FLAGS_REPLACE,
    XDP_FLAGS_SKB_MODE,
    XDP_FLAGS_UPDATE_IF_NOEXIST,
    XdpMode,
)

each_mode = pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
LoadFn = Callable[..., BpfObject]


def _refused(
    port: Port, request: Callable[[], None], code: int, extack: str | None = None
) -> NetlinkError:
    """A refused request: ``code``, an extack containing ``extack``, the XDP state kept."""
    return xdp_refused(port, request, code, extack, exact=False)


def _still_takes_a_program(port: Port, load_bpf: LoadFn, mode: XdpMode) -> None:
    """The device is still usable: (re)attaching a valid program works."""
    if xdp_attach.query(port.ns.ipr, port.ifindex).prog_id_for(mode):
        xdp_attach.detach(port.ns.ipr, port.ifindex, mode)
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    xdp_attach.attach_verified(port.ns.ipr, port.ifindex, fd, mode, what=f"xdp_pass on {port}")


@pytest.fixture
def closed_fd() -> int:
    fd = os.open("/dev/null", os.O_RDONLY)
    os.close(fd)
    return fd


@pytest.fixture
def devnull_fd() -> Iterator[int]:
    fd = os.open("/dev/null", os.O_RDONLY)
    yield fd
    os.close(fd)


@each_mode
def test_closed_fd_is_ebadf(
    veth_pair: VethPair, load_bpf: LoadFn, closed_fd: int, mode: XdpMode
) -> None:
    r = veth_pair.receiver
    _refused(r, lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, closed_fd, mode), errno.EBADF)
    _still_takes_a_program(r, load_bpf, mode)


@each_mode
def test_non_bpf_fd_is_einval(
    veth_pair: VethPair, load_bpf: LoadFn, devnull_fd: int, mode: XdpMode
) -> None:
    r = veth_pair.receiver
    _refused(r, lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, devnull_fd, mode), errno.EINVAL)
    _still_takes_a_program(r, load_bpf, mode)


@each_mode
def test_bpf_map_fd_is_einval(veth_pair: VethPair, load_bpf: LoadFn, mode: XdpMode) -> None:
    r = veth_pair.receiver
    map_fd = load_bpf("xdp_redirect").map_fd("tx_port")
    _refused(r, lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, map_fd, mode), errno.EINVAL)
    _still_takes_a_program(r, load_bpf, mode)


@each_mode
def test_socket_filter_program_is_einval(
    veth_pair: VethPair, load_bpf: LoadFn, mode: XdpMode
) -> None:
    r = veth_pair.receiver
    fd = load_bpf("not_xdp").prog_fd("sock_filter_accept_all")
    _refused(r, lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, fd, mode), errno.EINVAL)
    _still_takes_a_program(r, load_bpf, mode)


@each_mode
def test_devmap_program_is_einval(veth_pair: VethPair, load_bpf: LoadFn, mode: XdpMode) -> None:
    r = veth_pair.receiver
    fd = load_bpf("not_xdp").prog_fd("xdp_devmap_pass")
    _refused(
        r,
        lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, fd, mode),
        errno.EINVAL,
        "BPF_XDP_DEVMAP programs can not be attached to a device",
    )
    _still_takes_a_program(r, load_bpf, mode)


def test_two_mode_flags_is_einval(veth_pair: VethPair, load_bpf: LoadFn) -> None:
    r = veth_pair.receiver
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    flags = XDP_FLAGS_DRV_MODE | XDP_FLAGS_SKB_MODE
    _refused(r, lambda: xdp_attach.set_xdp_fd(r.ns.ipr, r.ifindex, fd, flags), errno.EINVAL)
    _still_takes_a_program(r, load_bpf, XdpMode.NATIVE)


def test_unknown_flag_is_einval(veth_pair: VethPair, load_bpf: LoadFn) -> None:
    r = veth_pair.receiver
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    # The top bit: far above XDP_FLAGS_MASK, so it stays unknown when a series
    # allocates the next free flag (feature-flags takes 1 << 5).
    flags = XDP_FLAGS_DRV_MODE | (1 << 31)
    _refused(r, lambda: xdp_attach.set_xdp_fd(r.ns.ipr, r.ifindex, fd, flags), errno.EINVAL)
    _still_takes_a_program(r, load_bpf, XdpMode.NATIVE)


def test_read_only_attribute_in_request_is_einval(veth_pair: VethPair, load_bpf: LoadFn) -> None:
    """IFLA_XDP_ATTACHED / IFLA_XDP_PROG_ID are reported, never accepted."""
    r = veth_pair.receiver
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    attrs = [("IFLA_XDP_FD", fd), ("IFLA_XDP_PROG_ID", 1)]
    _refused(
        r, lambda: r.ns.ipr.link("set", index=r.ifindex, IFLA_XDP={"attrs": attrs}), errno.EINVAL
    )
    _still_takes_a_program(r, load_bpf, XdpMode.NATIVE)


@each_mode
def test_update_if_noexist_is_ebusy_when_attached(
    veth_pair: VethPair,
    attach_xdp: Callable[[Port, str, XdpMode], int],
    load_bpf: LoadFn,
    mode: XdpMode,
) -> None:
    r = veth_pair.receiver
    attach_xdp(r, "xdp_pass", mode)
    fd = load_bpf("xdp_drop").prog_fd("xdp_drop")
    _refused(
        r,
        lambda: xdp_attach.attach(
            r.ns.ipr, r.ifindex, fd, mode, extra_flags=XDP_FLAGS_UPDATE_IF_NOEXIST
        ),
        errno.EBUSY,
        "XDP program already attached",
    )


@each_mode
def test_replace_without_expected_fd_is_einval(
    veth_pair: VethPair,
    attach_xdp: Callable[[Port, str, XdpMode], int],
    load_bpf: LoadFn,
    mode: XdpMode,
) -> None:
    r = veth_pair.receiver
    attach_xdp(r, "xdp_pass", mode)
    fd = load_bpf("xdp_drop").prog_fd("xdp_drop")
    _refused(
        r,
        lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, fd, mode, extra_flags=XDP_FLAGS_REPLACE),
        errno.EINVAL,
    )


@each_mode
def test_replace_with_wrong_expected_program_is_eexist(
    veth_pair: VethPair,
    attach_xdp: Callable[[Port, str, XdpMode], int],
    load_bpf: LoadFn,
    mode: XdpMode,
) -> None:
    r = veth_pair.receiver
    attach_xdp(r, "xdp_pass", mode)
    new_fd = load_bpf("xdp_drop").prog_fd("xdp_drop")
    not_attached_fd = load_bpf("xdp_aborted").prog_fd("xdp_aborted")
    _refused(
        r,
        lambda: xdp_attach.attach(
            r.ns.ipr,
            r.ifindex,
            new_fd,
            mode,
            extra_flags=XDP_FLAGS_REPLACE,
            expected_fd=not_attached_fd,
        ),
        errno.EEXIST,
        "Active program does not match expected",
    )


@each_mode
def test_replace_with_matching_expected_program_swaps(
    veth_pair: VethPair, load_bpf: LoadFn, mode: XdpMode
) -> None:
    """The positive twin of the two tests above."""
    r = veth_pair.receiver
    old_fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    xdp_attach.attach_verified(r.ns.ipr, r.ifindex, old_fd, mode)
    new = load_bpf("xdp_drop")
    new_fd = new.prog_fd("xdp_drop")
    xdp_attach.attach(
        r.ns.ipr, r.ifindex, new_fd, mode, extra_flags=XDP_FLAGS_REPLACE, expected_fd=old_fd
    )
    state = xdp_attach.query(r.ns.ipr, r.ifindex)
    assert state.prog_id_for(mode) == prog_id(new_fd), f"replace did not install xdp_drop: {state}"


@pytest.mark.parametrize(
    ("first", "second"),
    [(XdpMode.NATIVE, XdpMode.GENERIC), (XdpMode.GENERIC, XdpMode.NATIVE)],
    ids=["native-then-generic", "generic-then-native"],
)
def test_native_and_generic_together_is_eexist(
    veth_pair: VethPair,
    attach_xdp: Callable[[Port, str, XdpMode], int],
    load_bpf: LoadFn,
    first: XdpMode,
    second: XdpMode,
) -> None:
    r = veth_pair.receiver
    attach_xdp(r, "xdp_pass", first)
    fd = load_bpf("xdp_drop").prog_fd("xdp_drop")
    _refused(
        r,
        lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, fd, second),
        errno.EEXIST,
        "Native and generic XDP can't be active at the same time",
    )


def test_native_on_loopback_is_eopnotsupp(
    make_netns: Callable[[], NetNS], load_bpf: LoadFn
) -> None:
    ns = make_netns()
    lo = Port.lookup(ns, "lo")
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    _refused(
        lo,
        lambda: xdp_attach.attach(ns.ipr, lo.ifindex, fd, XdpMode.NATIVE),
        errno.EOPNOTSUPP,
        "Underlying driver does not support XDP in native mode",
    )
    # Generic XDP works on any device.
    xdp_attach.attach_verified(ns.ipr, lo.ifindex, fd, XdpMode.GENERIC, what="xdp_pass on lo")


def test_veth_peer_mtu_too_large_is_erange(veth_pair: VethPair, load_bpf: LoadFn) -> None:
    s, r = veth_pair.sender, veth_pair.receiver
    s.ns.ipr.link("set", index=s.ifindex, mtu=9000)
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    _refused(
        r,
        lambda: xdp_attach.attach(r.ns.ipr, r.ifindex, fd, XdpMode.NATIVE),
        errno.ERANGE,
        "Peer MTU is too large to set XDP",
    )
    s.ns.ipr.link("set", index=s.ifindex, mtu=1500)
    _still_takes_a_program(r, load_bpf, XdpMode.NATIVE)


def test_unknown_ifindex_is_enodev(make_netns: Callable[[], NetNS], load_bpf: LoadFn) -> None:
    ns = make_netns()
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    unused = max(link["index"] for link in ns.ipr.link("dump")) + 1000
    expect_errno(
        lambda: xdp_attach.attach(ns.ipr, unused, fd, XdpMode.NATIVE),
        errno.ENODEV,
        f"attaching to ifindex {unused}, which no device has",
    )
