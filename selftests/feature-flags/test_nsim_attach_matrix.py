"""Which attachments the feature check refuses, on a netdevsim device.

net/core/dev.c dev_xdp_check_features() (patch 4): in native mode, when
the request carries XDP_FLAGS_ENFORCE_FEATURES (or the sysctl is set), a
program needing features missing from dev->xdp_features is refused with
EOPNOTSUPP and the extack "XDP program needs features the device lacks: "
followed by the missing features' netdev names, lowest bit first, joined by
", ". Generic mode is never checked; without enforcement nothing changes.

The device advertises what debugfs ports/0/xdp_features is set to (patch
5); every case sets it, and checks the netdev family reports it, first.
Every combination of program x advertised features x enforcement x mode is
a case: the refused ones in one test, the accepted ones in another.
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    NSIM_DEFAULT_FEATURES,
    REDIRECT,
    RX_SG,
    SINGLE_FEATURES,
    XDP_FLAGS_ENFORCE_FEATURES,
    Nsim,
    attach_accepted,
    describe,
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
    Program("xdp_pass_frags", BASIC | RX_SG),
    Program("xdp_redirect_frags", BASIC | REDIRECT | RX_SG),
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
    def refused(self) -> bool:
        return self.enforced and self.mode is XdpMode.NATIVE and bool(self.missing)

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
REFUSED = [c for c in CASES if c.refused]
ACCEPTED = [c for c in CASES if not c.refused]


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
    nsim.advertise(case.device, netdev_info)
    p = nsim.port
    fd = prog_fds[case.program.stem]
    refused(
        p,
        lambda: xdp_attach.attach(p.ns.ipr, p.ifindex, fd, case.mode, extra_flags=case.flags),
        errno.EOPNOTSUPP,
        lacks_message(case.missing),
    )
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


def test_matrix_has_both_outcomes() -> None:
    """The case lists are computed: make sure neither collapsed to nothing."""
    assert (len(REFUSED), len(ACCEPTED)) == (31, 113), (
        f"expected 31 refused and 113 accepted cases, computed {len(REFUSED)} and {len(ACCEPTED)}"
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


def test_offloaded_program_is_not_checked(
    nsim: Nsim, load_bpf: Callable[..., BpfObject], netdev_info: InfoFn
) -> None:
    """HW mode is left to the device: enforced offload on a device advertising nothing."""
    nsim.advertise(0, netdev_info)
    p = nsim.port
    obj = load_bpf("xdp_pass", prog_ifindex={"xdp_pass": p.ifindex})
    attach_accepted(
        p,
        obj.prog_fd("xdp_pass"),
        XdpMode.OFFLOAD,
        XDP_FLAGS_ENFORCE_FEATURES,
        what="offloaded xdp_pass",
    )


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
