"""Device-bound XDP programs are checked at load time (patch 7).

kernel/bpf/offload.c bpf_prog_dev_bound_check_features(), called by the
verifier once it is done: with net.core.xdp_enforce_features set, an XDP
program loaded with BPF_F_XDP_DEV_BOUND_ONLY and a prog_ifindex whose
derived features the device lacks fails to load with EOPNOTSUPP, and the
verifier log says "XDP program needs features the device lacks: <names>".
Without the sysctl nothing is checked at load; offloaded programs are left
to the device.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    REDIRECT,
    RX_SG,
    XDP_FLAGS_ENFORCE_FEATURES,
    Nsim,
    errname,
    lacks_message,
    prog_info,
    prog_info_layout,
    refused,
)
from xdplib import xdp_attach
from xdplib.bpfobj import BpfError, BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.xdp_attach import XdpMode

InfoFn = Callable[[Port], NetdevInfo]
BPF_F_XDP_DEV_BOUND_ONLY = 1 << 6  # include/uapi/linux/bpf.h
LOG_SIZE = 1 << 20

CASES = [
    # (program, its needs, device features)
    ("xdp_redirect", BASIC | REDIRECT, BASIC),
    ("xdp_redirect", BASIC | REDIRECT, BASIC | RX_SG),
    ("xdp_pass_frags", BASIC | RX_SG, BASIC | REDIRECT),
    ("xdp_redirect_frags", BASIC | REDIRECT | RX_SG, BASIC),
    ("xdp_pass", BASIC, 0),
]


def load_dev_bound(
    load_bpf: Callable[..., BpfObject], stem: str, port: Port, log_size: int = LOG_SIZE
) -> BpfObject:
    return load_bpf(
        stem,
        prog_ifindex={stem: port.ifindex},
        prog_flags={stem: BPF_F_XDP_DEV_BOUND_ONLY},
        log_size=log_size,
    )


@pytest.mark.parametrize(
    ("stem", "needs", "device"), CASES, ids=[f"{c[0]}-dev:{c[2]:#x}" for c in CASES]
)
def test_load_refused_with_sysctl(
    nsim: Nsim,
    load_bpf: Callable[..., BpfObject],
    enforce_sysctl: Callable[[int], None],
    netdev_info: InfoFn,
    stem: str,
    needs: int,
    device: int,
) -> None:
    nsim.advertise(device, netdev_info)
    enforce_sysctl(1)
    with pytest.raises(BpfError) as exc:
        load_dev_bound(load_bpf, stem, nsim.port)
    err = exc.value
    assert err.errno == errno.EOPNOTSUPP, (
        f"loading dev-bound {stem} for a device advertising {device:#x}: expected EOPNOTSUPP, "
        f"got {errname(err.errno or 0)}"
    )
    expected = lacks_message(needs & ~device)
    last = err.log.rstrip("\n").splitlines()[-1:] if err.log else []
    assert expected in err.log, f"verifier log lacks {expected!r}; its last line: {last}"


@pytest.mark.parametrize("stem", ["xdp_redirect", "xdp_pass_frags", "xdp_redirect_frags"])
def test_load_accepted_on_capable_device(
    nsim: Nsim,
    load_bpf: Callable[..., BpfObject],
    enforce_sysctl: Callable[[int], None],
    netdev_info: InfoFn,
    stem: str,
) -> None:
    """Loaded, with the derived features intact.

    netdevsim refuses to run device-bound programs in native mode ("attempt
    to load offloaded prog to drv"), so the attach is not part of this test.
    """
    nsim.advertise(ALL_FEATURES, netdev_info)
    enforce_sysctl(1)
    obj = load_dev_bound(load_bpf, stem, nsim.port)
    needs = dict((c[0], c[1]) for c in CASES)[stem]
    info = prog_info(obj.prog_fd(stem))
    layout = prog_info_layout(load_bpf("prog_info_layout"))
    (got,) = struct.unpack_from("I", info, layout.xdp_features_offset)
    assert got == needs, f"dev-bound {stem}: bpf_prog_info.xdp_features {got:#x}, want {needs:#x}"


def test_load_not_checked_without_sysctl(
    nsim: Nsim, load_bpf: Callable[..., BpfObject], netdev_info: InfoFn
) -> None:
    """Loads on a device advertising nothing; the enforced attach then refuses it."""
    nsim.advertise(BASIC, netdev_info)
    obj = load_dev_bound(load_bpf, "xdp_redirect", nsim.port)
    p = nsim.port
    fd = obj.prog_fd("xdp_redirect")
    refused(
        p,
        lambda: xdp_attach.attach(
            p.ns.ipr, p.ifindex, fd, XdpMode.NATIVE, extra_flags=XDP_FLAGS_ENFORCE_FEATURES
        ),
        errno.EOPNOTSUPP,
        lacks_message(REDIRECT),
    )


def test_offloaded_load_not_checked(
    nsim: Nsim,
    load_bpf: Callable[..., BpfObject],
    enforce_sysctl: Callable[[int], None],
    netdev_info: InfoFn,
) -> None:
    """Offload (prog_ifindex without DEV_BOUND_ONLY) is the device's to check."""
    nsim.advertise(0, netdev_info)
    enforce_sysctl(1)
    obj = load_bpf("xdp_pass", prog_ifindex={"xdp_pass": nsim.port.ifindex})
    assert obj.prog_fd("xdp_pass") >= 0


def test_device_features_raised_after_refusal(
    nsim: Nsim,
    load_bpf: Callable[..., BpfObject],
    enforce_sysctl: Callable[[int], None],
    netdev_info: InfoFn,
) -> None:
    """The check reads the device's features at each load, not a cached copy."""
    nsim.advertise(BASIC, netdev_info)
    enforce_sysctl(1)
    with pytest.raises(BpfError):
        load_dev_bound(load_bpf, "xdp_redirect", nsim.port)
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    obj = load_dev_bound(load_bpf, "xdp_redirect", nsim.port)
    assert obj.prog_fd("xdp_redirect") >= 0
