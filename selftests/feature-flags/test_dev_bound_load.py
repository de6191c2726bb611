"""Device-bound XDP programs checked at load time, on request (patch 9).

kernel/bpf/offload.c bpf_prog_dev_bound_check_features(), called by the
verifier once it is done: an XDP program loaded with BPF_F_XDP_DEV_BOUND_ONLY,
a prog_ifindex and the new BPF_PROG_LOAD flag BPF_F_XDP_ENFORCE_FEATURES
(1 << 8), whose own derived features the device lacks, fails to load with
EOPNOTSUPP, and the verifier log says "XDP program needs features the
device lacks: <names>". An extension (freplace) program of a dev-bound
program inherits its device and is checked the same way. The flag on a
program that is not dev-bound (no prog_ifindex, or an offloaded one: a
prog_ifindex without DEV_BOUND_ONLY) is EINVAL (kernel/bpf/syscall.c
bpf_prog_load()). Without the flag nothing is checked at load, as before.
Since v2, xdp.frags programs need no rx-sg.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    BPF_F_XDP_DEV_BOUND_ONLY,
    BPF_F_XDP_ENFORCE_FEATURES,
    REDIRECT,
    RX_SG,
    Nsim,
    bpf_refused,
    describe,
    enforced_refused,
    lacks_message,
    prog_info,
    prog_info_layout,
)
from xdplib.bpfobj import BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
DEV_BOUND = BPF_F_XDP_DEV_BOUND_ONLY
ENFORCE = BPF_F_XDP_ENFORCE_FEATURES
LOG_SIZE = 1 << 20

NEEDS = {
    "xdp_pass": BASIC,
    "xdp_redirect": BASIC | REDIRECT,
    "xdp_pass_frags": BASIC,
    "xdp_redirect_frags": BASIC | REDIRECT,
}
REFUSED = [
    # (program, device features)
    ("xdp_redirect", BASIC),
    ("xdp_redirect", BASIC | RX_SG),
    ("xdp_redirect_frags", BASIC | RX_SG),
    ("xdp_pass_frags", REDIRECT | RX_SG),
    ("xdp_pass", 0),
]


def load_dev_bound(
    load_bpf: LoadFn, stem: str, port: Port, flags: int = DEV_BOUND | ENFORCE
) -> BpfObject:
    """Load ``stem`` bound to ``port`` with ``flags``; a failure carries the verifier log."""
    return load_bpf(
        stem, prog_ifindex={stem: port.ifindex}, prog_flags={stem: flags}, log_size=LOG_SIZE
    )


def load_refused(load: Callable[[], object], missing: int, what: str) -> None:
    """The load fails with EOPNOTSUPP, and the verifier log names what is missing."""
    err = bpf_refused(load, errno.EOPNOTSUPP, what)
    expected = lacks_message(missing)
    last = err.log.rstrip("\n").splitlines()[-3:] if err.log else []
    assert expected in err.log.splitlines(), (
        f"{what}: the verifier log lacks the line {expected!r}; it ends with {last}"
    )


def xdp_features(load_bpf: LoadFn, prog_fd: int) -> int:
    layout = prog_info_layout(load_bpf("prog_info_layout"))
    (value,) = struct.unpack_from("I", prog_info(prog_fd), layout.xdp_features_offset)
    return int(value)


@pytest.mark.parametrize(
    ("stem", "device"), REFUSED, ids=[f"{stem}-dev:{dev:#x}" for stem, dev in REFUSED]
)
def test_enforced_load_refused_when_device_lacks_features(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn, stem: str, device: int
) -> None:
    nsim.advertise(device, netdev_info)
    load_refused(
        lambda: load_dev_bound(load_bpf, stem, nsim.port),
        NEEDS[stem] & ~device,
        f"enforced dev-bound load of {stem} for a device advertising {describe(device)}",
    )


@pytest.mark.parametrize("stem", list(NEEDS))
def test_enforced_load_accepted_on_capable_device(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn, stem: str
) -> None:
    """Loaded, with the derived features intact.

    netdevsim refuses to run device-bound programs in native mode ("attempt
    to load offloaded prog to drv"), so the attach is not part of this test.
    """
    nsim.advertise(ALL_FEATURES, netdev_info)
    obj = load_dev_bound(load_bpf, stem, nsim.port)
    got = xdp_features(load_bpf, obj.prog_fd(stem))
    assert got == NEEDS[stem], (
        f"dev-bound {stem}: bpf_prog_info.xdp_features {describe(got)}, "
        f"want {describe(NEEDS[stem])}"
    )


@pytest.mark.parametrize("stem", ["xdp_pass_frags", "xdp_redirect_frags"])
def test_frags_program_loads_for_device_without_rx_sg(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn, stem: str
) -> None:
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    obj = load_dev_bound(load_bpf, stem, nsim.port)
    assert xdp_features(load_bpf, obj.prog_fd(stem)) == NEEDS[stem]


def test_load_without_flag_is_not_checked(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """Loads for a device lacking redirect; an enforced attach then refuses it."""
    nsim.advertise(BASIC, netdev_info)
    obj = load_dev_bound(load_bpf, "xdp_redirect", nsim.port, flags=DEV_BOUND)
    enforced_refused(
        nsim.port, obj.prog_fd("xdp_redirect"), errno.EOPNOTSUPP, lacks_message(REDIRECT)
    )


@pytest.mark.parametrize(
    ("ifindex", "flags"),
    [(False, ENFORCE), (False, ENFORCE | DEV_BOUND), (True, ENFORCE)],
    ids=["no-ifindex", "dev-bound-only-without-ifindex", "offload"],
)
def test_flag_on_program_not_dev_bound_is_einval(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn, ifindex: bool, flags: int
) -> None:
    """Refused even though the device has every feature: the flag needs a dev-bound program."""
    nsim.advertise(ALL_FEATURES, netdev_info)
    bound = {"xdp_pass": nsim.port.ifindex} if ifindex else None
    bpf_refused(
        lambda: load_bpf("xdp_pass", prog_ifindex=bound, prog_flags={"xdp_pass": flags}),
        errno.EINVAL,
        f"loading xdp_pass with flags {flags:#x}, prog_ifindex {'set' if ifindex else 'unset'}",
    )


def test_device_features_read_at_each_load(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    """The check reads the device's features at each load, not a cached copy."""
    nsim.advertise(BASIC, netdev_info)
    load_refused(
        lambda: load_dev_bound(load_bpf, "xdp_redirect", nsim.port),
        REDIRECT,
        "enforced dev-bound load of xdp_redirect, basic-only device",
    )
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    obj = load_dev_bound(load_bpf, "xdp_redirect", nsim.port)
    assert xdp_features(load_bpf, obj.prog_fd("xdp_redirect")) == BASIC | REDIRECT


def _dev_bound_dispatcher(nsim: Nsim, load_bpf: LoadFn) -> int:
    """progs/xdp_dispatcher.bpf.c bound to the netdevsim port (no load check)."""
    obj = load_dev_bound(load_bpf, "xdp_dispatcher", nsim.port, flags=DEV_BOUND)
    return obj.prog_fd("xdp_dispatcher")


def _load_extension(load_bpf: LoadFn, stem: str, prog: str, target_fd: int) -> BpfObject:
    return load_bpf(stem, prog_flags={prog: ENFORCE}, log_size=LOG_SIZE, freplace_target=target_fd)


def test_extension_of_dev_bound_program_is_checked(
    nsim: Nsim, load_bpf: LoadFn, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    target = _dev_bound_dispatcher(nsim, load_bpf)
    load_refused(
        lambda: _load_extension(load_bpf, "xdp_ext_redirect", "ext_redirect", target),
        REDIRECT,
        "enforced load of ext_redirect for a dispatcher bound to a basic-only device",
    )
    obj = _load_extension(load_bpf, "xdp_ext_drop", "ext_drop", target)
    assert xdp_features(load_bpf, obj.prog_fd("ext_drop")) == BASIC


def test_flag_on_extension_of_unbound_program_is_einval(nsim: Nsim, load_bpf: LoadFn) -> None:
    target = load_bpf("xdp_dispatcher").prog_fd("xdp_dispatcher")
    bpf_refused(
        lambda: _load_extension(load_bpf, "xdp_ext_drop", "ext_drop", target),
        errno.EINVAL,
        "enforced load of ext_drop for a dispatcher bound to no device",
    )
