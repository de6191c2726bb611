"""net.core.xdp_enforce_features: the check for every native attach.

net/core/sysctl_net_core.c (patch 4): an int, 0644, proc_dointvec_minmax
bounded to 0..1, default 0. net/core/dev.c dev_xdp_check_features() treats
a set sysctl like XDP_FLAGS_ENFORCE_FEATURES on every request, netlink or
bpf_link, in native mode only. The variable is global: it is registered in
the initial namespace and applies to devices of every namespace. Programs
already attached are not re-checked.

The ``enforce_sysctl`` fixture puts it back to 0 after each test.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    ENFORCE_SYSCTL,
    NSIM_DEFAULT_FEATURES,
    REDIRECT,
    Nsim,
    attach_accepted,
    errname,
    lacks_message,
    link_failure_messages,
    refused,
    write_errno,
)
from xdplib import xdp_attach
from xdplib.bpflink import XdpLink
from xdplib.bpfobj import BpfError, BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import NetNS, Port, create_veth
from xdplib.tracefs import TraceInstance
from xdplib.xdp_attach import XdpMode

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
SetFn = Callable[[int], None]


def _fd(load_bpf: LoadFn, stem: str) -> int:
    return load_bpf(stem).prog_fd(stem)


def test_defaults_to_zero() -> None:
    value = ENFORCE_SYSCTL.read_text()
    assert value == "0\n", f"{ENFORCE_SYSCTL} should default to 0 (opt-in), reads {value!r}"


@pytest.mark.parametrize("text", ["2\n", "-1\n", "banana\n"], ids=["2", "-1", "banana"])
def test_values_outside_0_1_are_einval(enforce_sysctl: SetFn, text: str) -> None:
    enforce_sysctl(1)
    err = write_errno(ENFORCE_SYSCTL, text)
    assert err == errno.EINVAL, (
        f"writing {text.strip()!r} to {ENFORCE_SYSCTL} should fail with EINVAL, got "
        f"{errname(err) if err else 'success'}"
    )
    value = ENFORCE_SYSCTL.read_text()
    assert value == "1\n", f"the refused write changed {ENFORCE_SYSCTL} from 1 to {value!r}"


def test_native_attach_without_flag_is_checked(
    nsim: Nsim, enforce_sysctl: SetFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(NSIM_DEFAULT_FEATURES, netdev_info)
    enforce_sysctl(1)
    p, fd = nsim.port, _fd(load_bpf, "xdp_pass")
    refused(
        p,
        lambda: xdp_attach.attach(p.ns.ipr, p.ifindex, fd, XdpMode.NATIVE),
        errno.EOPNOTSUPP,
        lacks_message(BASIC),
    )


def test_native_attach_the_device_can_run_is_accepted(
    nsim: Nsim, enforce_sysctl: SetFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    enforce_sysctl(1)
    attach_accepted(
        nsim.port, _fd(load_bpf, "xdp_redirect_map"), XdpMode.NATIVE, what="xdp_redirect_map"
    )


def test_generic_attach_is_not_checked(
    nsim: Nsim, enforce_sysctl: SetFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(0, netdev_info)
    enforce_sysctl(1)
    attach_accepted(
        nsim.port, _fd(load_bpf, "xdp_redirect_map"), XdpMode.GENERIC, what="xdp_redirect_map"
    )


def test_back_to_zero_stops_checking(
    nsim: Nsim, enforce_sysctl: SetFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(0, netdev_info)
    enforce_sysctl(1)
    enforce_sysctl(0)
    attach_accepted(nsim.port, _fd(load_bpf, "xdp_pass"), XdpMode.NATIVE, what="xdp_pass")


def test_replace_without_flag_is_checked(
    nsim: Nsim, enforce_sysctl: SetFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    p = nsim.port
    old_fd, new_fd = _fd(load_bpf, "xdp_pass"), _fd(load_bpf, "xdp_redirect_map")
    attach_accepted(p, old_fd, XdpMode.NATIVE, what="xdp_pass")
    enforce_sysctl(1)
    refused(
        p,
        lambda: xdp_attach.attach(
            p.ns.ipr,
            p.ifindex,
            new_fd,
            XdpMode.NATIVE,
            extra_flags=xdp_attach.XDP_FLAGS_REPLACE,
            expected_fd=old_fd,
        ),
        errno.EOPNOTSUPP,
        lacks_message(REDIRECT),
    )


def test_link_create_without_flag_is_checked(
    nsim: Nsim,
    enforce_sysctl: SetFn,
    load_bpf: LoadFn,
    netdev_info: InfoFn,
    link_attach_failed_trace: TraceInstance,
) -> None:
    nsim.advertise(BASIC, netdev_info)
    enforce_sysctl(1)
    fd = _fd(load_bpf, "xdp_redirect_map")
    with pytest.raises(BpfError) as exc:
        XdpLink(fd, nsim.port.ifindex, XdpMode.NATIVE.flag).close()
    assert exc.value.errno == errno.EOPNOTSUPP, f"expected EOPNOTSUPP, got {exc.value}"
    messages = link_failure_messages(link_attach_failed_trace)
    assert messages == [lacks_message(REDIRECT)], (
        f"expected one bpf_xdp_link_attach_failed event with errmsg "
        f"{lacks_message(REDIRECT)!r}, got {messages}"
    )
    state = nsim.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, f"refused link left {state}"


def test_applies_to_devices_in_other_namespaces(
    make_netns: Callable[[], NetNS], enforce_sysctl: SetFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """A veth in a fresh namespace whose peer has more tx queues than it has rx queues
    advertises nothing; with the sysctl set the feature check refuses before veth does."""
    ns_a, ns_b = make_netns(), make_netns()
    _, b = create_veth(
        ns_a,
        "veth0",
        ns_b,
        "veth1",
        a_num_tx_queues=2,
        a_num_rx_queues=2,
        b_num_tx_queues=1,
        b_num_rx_queues=1,
    )
    assert netdev_info(b).xdp_features_raw == 0, f"{b} should advertise no XDP feature"
    enforce_sysctl(1)
    fd = _fd(load_bpf, "xdp_pass")
    refused(
        b,
        lambda: xdp_attach.attach(b.ns.ipr, b.ifindex, fd, XdpMode.NATIVE),
        errno.EOPNOTSUPP,
        lacks_message(BASIC),
    )


def test_attached_programs_are_not_rechecked(
    nsim: Nsim, enforce_sysctl: SetFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(0, netdev_info)
    prog_id = attach_accepted(
        nsim.port, _fd(load_bpf, "xdp_redirect_map"), XdpMode.NATIVE, what="xdp_redirect_map"
    )
    enforce_sysctl(1)
    state = nsim.state()
    assert state.drv_prog_id == prog_id, (
        f"setting the sysctl must not detach prog {prog_id}: {nsim.port} reports {state}"
    )


def test_offloaded_program_is_not_checked(
    nsim: Nsim, enforce_sysctl: SetFn, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(ALL_FEATURES & ~BASIC, netdev_info)
    enforce_sysctl(1)
    obj = load_bpf("xdp_pass", prog_ifindex={"xdp_pass": nsim.port.ifindex})
    attach_accepted(nsim.port, obj.prog_fd("xdp_pass"), XdpMode.OFFLOAD, what="offloaded xdp_pass")
