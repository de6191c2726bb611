"""Which attachments the feature check refuses, on a netdevsim device.

net/core/dev.c dev_xdp_enforce_begin() (patch 4): in native mode, when the
request carries XDP_FLAGS_ENFORCE_FEATURES, a program needing features
missing from dev->xdp_features is refused with EOPNOTSUPP and the extack
"XDP program needs features the device lacks: " followed by the missing
features' netdev names, lowest bit first, joined by ", ". The flag is for
native mode only: with XDP_FLAGS_SKB_MODE or XDP_FLAGS_HW_MODE it is EINVAL,
"XDP feature enforcement is for native mode only" (dev_xdp_attach()).
Without enforcement nothing changes. Since v2 xdp.frags programs need no
rx-sg: on a device without it they are accepted.

The device advertises what debugfs ports/0/xdp_features is set to (patch
5); every case sets it, and checks the netdev family reports it, first.
Every combination of program x advertised features x enforcement x mode is
a case: the refused ones (for the features, or for the mode) in one test,
the accepted ones in another.
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    FDINFO_PROG_LOCK,
    NATIVE_ONLY,
    NSIM_DEFAULT_FEATURES,
    REDIRECT,
    SINGLE_FEATURES,
    XDP_FLAGS_ENFORCE_FEATURES,
    Nsim,
    assert_lock,
    attach_accepted,
    attach_enforced,
    describe,
    enforced_refused,
    feature_names,
    lacks_message,
    refused,
)
from xdplib import bpfobj, xdp_attach
from xdplib.bpfobj import BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.xdp_attach import BOTH_MODES, XdpMode

InfoFn = Callable[[Port], NetdevInfo]
SUITE = "feature-flags"


@dataclass(frozen=True)
class Program:
    stem: str  # progs/<stem>.bpf.c, whose program has the same name
    needs: int


PROGRAMS = (
    Program("xdp_pass", BASIC),
    Program("xdp_redirect_map", BASIC | REDIRECT),
    Program("xdp_pass_frags", BASIC),
    Program("xdp_redirect_frags", BASIC | REDIRECT),
)
DEVICE_FEATURES = (ALL_FEATURES, 0, *SINGLE_FEATURES)


@dataclass(frozen=True)
class Case:
    program: Program
    device: int
    enforced: bool
    mode: XdpMode

    @property
    def flags(self) -> int:
        return XDP_FLAGS_ENFORCE_FEATURES if self.enforced else 0

    @property
    def missing(self) -> int:
        return self.program.needs & ~self.device

    @property
    def refusal(self) -> tuple[int, str] | None:
        """(errno, extack) of a refused case; None when the attach is accepted."""
        if not self.enforced:
            return None
        if self.mode is not XdpMode.NATIVE:
            return errno.EINVAL, NATIVE_ONLY
        return (errno.EOPNOTSUPP, lacks_message(self.missing)) if self.missing else None

    def __str__(self) -> str:
        if self.device == ALL_FEATURES:
            dev = "all"
        else:
            dev = "+".join(feature_names(self.device)) or "none"
        enforced = "enforced" if self.enforced else "not-enforced"
        return f"{self.program.stem}-dev:{dev}-{enforced}-{self.mode}"


CASES = [
    Case(program, device, enforced, mode)
    for program, device, enforced, mode in itertools.product(
        PROGRAMS, DEVICE_FEATURES, (True, False), BOTH_MODES
    )
]
REFUSED = [c for c in CASES if c.refusal]
ACCEPTED = [c for c in CASES if not c.refusal]


@pytest.fixture(scope="module")
def prog_fds() -> Iterator[dict[str, int]]:
    """Every program of the matrix, loaded once for the module."""
    objs: list[BpfObject] = []
    try:
        fds = {}
        for program in PROGRAMS:
            obj = bpfobj.load(SUITE, program.stem)
            objs.append(obj)
            fds[program.stem] = obj.prog_fd(program.stem)
        yield fds
    finally:
        for obj in objs:
            obj.close()


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_refused(nsim: Nsim, prog_fds: dict[str, int], netdev_info: InfoFn, case: Case) -> None:
    assert case.refusal is not None
    nsim.advertise(case.device, netdev_info)
    p = nsim.port
    fd = prog_fds[case.program.stem]
    enforced_refused(p, fd, *case.refusal, case.mode)
    state = nsim.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, (
        f"{case.program.stem} needing {describe(case.program.needs)} was refused on a device "
        f"advertising {describe(case.device)}, yet {p} reports {state}"
    )


@pytest.mark.parametrize("case", ACCEPTED, ids=str)
def test_accepted(nsim: Nsim, prog_fds: dict[str, int], netdev_info: InfoFn, case: Case) -> None:
    nsim.advertise(case.device, netdev_info)
    p = nsim.port
    attach_accepted(
        p,
        prog_fds[case.program.stem],
        case.mode,
        case.flags,
        what=f"{case.program.stem} ({describe(case.program.needs)}) on a device advertising "
        f"{describe(case.device)}",
    )
    xdp_attach.detach(p.ns.ipr, p.ifindex, case.mode)
    state = nsim.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, f"after detach {p} reports {state}"


def test_matrix_has_every_outcome() -> None:
    """The case lists are computed: make sure none collapsed to nothing."""
    for_features = [c for c in REFUSED if c.mode is XdpMode.NATIVE]
    counts = (len(for_features), len(REFUSED) - len(for_features), len(ACCEPTED))
    assert counts == (30, 36, 78), (
        f"expected 30 cases refused for the features, 36 for the mode and 78 accepted, "
        f"computed {counts}"
    )


def test_enforce_without_mode_flag_means_native_and_is_checked(
    nsim: Nsim, prog_fds: dict[str, int], netdev_info: InfoFn
) -> None:
    """No mode flag: a device with ndo_bpf gets native mode (dev_xdp_mode()), so it is checked."""
    nsim.advertise(NSIM_DEFAULT_FEATURES, netdev_info)
    p = nsim.port
    fd = prog_fds["xdp_pass"]
    refused(
        p,
        lambda: xdp_attach.set_xdp_fd(p.ns.ipr, p.ifindex, fd, XDP_FLAGS_ENFORCE_FEATURES),
        errno.EOPNOTSUPP,
        lacks_message(BASIC),
    )


def test_enforced_offload_is_einval(
    nsim: Nsim, load_bpf: Callable[..., BpfObject], netdev_info: InfoFn
) -> None:
    """HW mode is left to the device, so the flag is refused there, whatever it advertises;
    the offload itself works without it."""
    nsim.advertise(ALL_FEATURES, netdev_info)
    p = nsim.port
    fd = load_bpf("xdp_pass", prog_ifindex={"xdp_pass": p.ifindex}).prog_fd("xdp_pass")
    enforced_refused(p, fd, errno.EINVAL, NATIVE_ONLY, XdpMode.OFFLOAD)
    attach_accepted(p, fd, XdpMode.OFFLOAD, what="offloaded xdp_pass, not enforced")


def test_detach_with_enforce_flag_is_not_checked(
    nsim: Nsim, prog_fds: dict[str, int], netdev_info: InfoFn
) -> None:
    """Detaching installs no program, so there is nothing to check."""
    nsim.advertise(0, netdev_info)
    p = nsim.port
    attach_accepted(p, prog_fds["xdp_pass"], XdpMode.NATIVE, what="xdp_pass, not enforced")
    xdp_attach.set_xdp_fd(p.ns.ipr, p.ifindex, -1, XdpMode.NATIVE.flag | XDP_FLAGS_ENFORCE_FEATURES)
    state = nsim.state()
    assert state.attached == xdp_attach.XDP_ATTACHED_NONE, (
        f"detaching with XDP_FLAGS_ENFORCE_FEATURES should work on a device advertising "
        f"nothing, {p} reports {state}"
    )


def test_generic_detach_with_enforce_flag_is_einval(
    nsim: Nsim, prog_fds: dict[str, int], netdev_info: InfoFn
) -> None:
    """The mode check does not look for a program: a generic detach carrying the flag is
    refused like a generic attach, and the program stays."""
    nsim.advertise(ALL_FEATURES, netdev_info)
    p = nsim.port
    attach_accepted(p, prog_fds["xdp_pass"], XdpMode.GENERIC, what="xdp_pass, generic")
    flags = XdpMode.GENERIC.flag | XDP_FLAGS_ENFORCE_FEATURES
    refused(
        p, lambda: xdp_attach.set_xdp_fd(p.ns.ipr, p.ifindex, -1, flags), errno.EINVAL, NATIVE_ONLY
    )


def test_attached_program_stays_when_features_drop(
    nsim: Nsim, prog_fds: dict[str, int], netdev_info: InfoFn
) -> None:
    """The check is made at attach time; later changes do not detach programs."""
    nsim.advertise(ALL_FEATURES, netdev_info)
    prog_id = attach_accepted(
        nsim.port,
        prog_fds["xdp_redirect_map"],
        XdpMode.NATIVE,
        XDP_FLAGS_ENFORCE_FEATURES,
        "xdp_redirect_map, enforced",
    )
    nsim.advertise(0, netdev_info)
    state = nsim.state()
    assert state.drv_prog_id == prog_id, (
        f"prog {prog_id} was attached while the device advertised everything; after its "
        f"features dropped to none it should stay attached, {nsim.port} reports {state}"
    )


@pytest.mark.parametrize("stem", ["xdp_pass_frags", "xdp_redirect_frags"])
def test_frags_program_accepted_without_rx_sg(
    nsim: Nsim, load_bpf: Callable[..., BpfObject], netdev_info: InfoFn, stem: str
) -> None:
    """v1 derived rx-sg from BPF_F_XDP_HAS_FRAGS and refused these; v2 does not."""
    device = BASIC | REDIRECT
    nsim.advertise(device, netdev_info)
    fd = load_bpf(stem).prog_fd(stem)
    attach_enforced(nsim.port, fd, f"{stem} on a device without rx-sg")
    assert_lock(fd, FDINFO_PROG_LOCK, device, f"{stem} attached enforced")


def test_fresh_port_refuses_enforced_native_attach(
    fresh_nsim: Nsim, load_bpf: Callable[..., BpfObject]
) -> None:
    """netdevsim advertises hw-offload only (it takes native programs but does not run
    them): enforcement refuses, documented as intended; without it the attach works."""
    p = fresh_nsim.port
    assert fresh_nsim.features() == NSIM_DEFAULT_FEATURES, f"{fresh_nsim.knob} was changed"
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    enforced_refused(p, fd, errno.EOPNOTSUPP, lacks_message(BASIC))
    attach_accepted(p, fd, XdpMode.NATIVE, what="xdp_pass, not enforced, fresh netdevsim port")


def test_there_is_no_global_switch() -> None:
    """v1's net.core.xdp_enforce_features is gone: enforcement is the per-attach flag only."""
    sysctl = Path("/proc/sys/net/core/xdp_enforce_features")
    assert not sysctl.exists(), f"{sysctl} exists: v2 removed the global switch"
