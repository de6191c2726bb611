"""Extension (freplace) programs of an enforced XDP program (patch 7).

libxdp runs several programs on one device through a dispatcher: an XDP
program calling global functions that extension programs
(BPF_PROG_TYPE_EXT, SEC("freplace/<function>")) replace. What runs on the
device is then the extensions' code, so kernel/bpf/xdp_features.c counts
them as reached by the dispatcher:

- an enforced attach of a dispatcher whose function is already replaced
  (libxdp's order) checks the extension, and the prog_arrays it can tail
  call into: refused with EOPNOTSUPP and "XDP tail calls or extensions
  need features the device lacks: <names>";
- an extension attached to a dispatcher that is locked (installed with
  enforcement) must not need more than its lock, itself or through its
  prog_arrays: else BPF_LINK_CREATE fails with EOPNOTSUPP (no extack);
  once attached, its prog_arrays are locked too.

The verifier derives an extension's features as for an XDP program
(resolve_prog_type()), and its fdinfo shows them.

progs/xdp_dispatcher.bpf.c: xdp_dispatcher calls ff_stage() then
ff_stage2(), which pass. progs/xdp_ext_drop.bpf.c (ext_drop, basic),
xdp_ext_redirect.bpf.c (ext_redirect, basic and redirect) and
xdp_ext_tail.bpf.c (ext_tail, basic, tail calls into ext_jmp_table;
ext_tail_redirect and ext_tail_pass to put there) replace ff_stage(), or
ff_stage2(). Extensions are attached with libbpf's
bpf_program__attach_freplace() and detached at teardown.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from ffcommon import (
    BASIC,
    FDINFO_FEATURES,
    FDINFO_PROG_LOCK,
    FREPLACE_FUNCTION,
    FREPLACE_FUNCTION2,
    REDIRECT,
    FreplaceFn,
    Nsim,
    ProgArrays,
    assert_lock,
    attach_accepted,
    attach_enforced,
    bpf_refused,
    describe,
    enforced_refused,
    reach_message,
)
from xdplib import xdp_attach
from xdplib.bpflink import FreplaceLink
from xdplib.bpfobj import BpfObject, prog_test_run
from xdplib.fdinfo import fdinfo_values
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.xdp_attach import XdpMode

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
XDP_DROP, XDP_PASS, XDP_REDIRECT = 1, 2, 4
FRAME = bytes(64)
EXT_TAIL_XDP_PROGS = {"ext_tail_redirect": 0, "ext_tail_pass": 0}  # expected_attach_type


@dataclass
class Dispatcher:
    """The loaded dispatcher, and its extensions loaded and attached on demand."""

    obj: BpfObject
    load_bpf: LoadFn
    attach_extension: FreplaceFn

    @property
    def fd(self) -> int:
        return self.obj.prog_fd("xdp_dispatcher")

    def load_extension(self, stem: str) -> BpfObject:
        """progs/<stem>.bpf.c, its extensions aimed at the dispatcher's ff_stage().

        The XDP programs of xdp_ext_tail go into a prog_array the extension
        owns: they are loaded with its expected_attach_type, 0."""
        attach_types = (
            {"ext_tail_redirect": 0, "ext_tail_pass": 0} if stem == "xdp_ext_tail" else {}
        )
        return self.load_bpf(stem, freplace_target=self.fd, attach_types=attach_types)

    def extend(self, ext: BpfObject, prog: str, function: str = FREPLACE_FUNCTION) -> FreplaceLink:
        try:
            return self.attach_extension(ext, prog, self.fd, function)
        except OSError as e:
            raise AssertionError(
                f"attaching {prog} in place of xdp_dispatcher's {function} should work: {e}"
            ) from e

    def extend_refused(self, ext: BpfObject, prog: str) -> None:
        """The extension attach fails with EOPNOTSUPP; the dispatcher still runs ff_stage()."""
        lock = fdinfo_values(self.fd, FDINFO_PROG_LOCK)
        bpf_refused(
            lambda: self.attach_extension(ext, prog, self.fd),
            errno.EOPNOTSUPP,
            f"attaching {prog} to xdp_dispatcher (xdp_features_allowed {lock})",
        )
        self.assert_verdict(XDP_PASS, f"after {prog} was refused")

    def assert_verdict(self, expected: int, what: str) -> None:
        """BPF_PROG_TEST_RUN of the dispatcher returns ``expected``: what runs in ff_stage()."""
        got = prog_test_run(self.fd, FRAME).retval
        assert got == expected, f"{what}: the dispatcher returned {got}, expected {expected}"


@pytest.fixture
def dispatcher(load_bpf: LoadFn, attach_extension: FreplaceFn) -> Dispatcher:
    return Dispatcher(load_bpf("xdp_dispatcher"), load_bpf, attach_extension)


def _ext_tail(dispatcher: Dispatcher, slot0: str | None) -> ProgArrays:
    """xdp_ext_tail loaded, with ``slot0`` (a program name, or None) in ext_jmp_table[0]."""
    arrays = ProgArrays(dispatcher.load_extension("xdp_ext_tail"))
    if slot0 is not None:
        arrays.insert("ext_jmp_table", 0, slot0)
    return arrays


@pytest.mark.parametrize(
    ("stem", "prog", "features"),
    [
        ("xdp_ext_drop", "ext_drop", BASIC),
        ("xdp_ext_redirect", "ext_redirect", BASIC | REDIRECT),
        ("xdp_ext_tail", "ext_tail", BASIC),
    ],
    ids=["ext_drop", "ext_redirect", "ext_tail"],
)
def test_extension_fdinfo_shows_needed_features(
    dispatcher: Dispatcher, stem: str, prog: str, features: int
) -> None:
    fd = dispatcher.load_extension(stem).prog_fd(prog)
    values = fdinfo_values(fd, FDINFO_FEATURES)
    assert values == [f"{features:#x}"], (
        f"extension {prog} of an XDP program: expected one fdinfo line "
        f"'xdp_features:\\t{features:#x}' ({describe(features)}), got {values}"
    )


def test_extension_replaces_the_dispatcher_function(dispatcher: Dispatcher) -> None:
    """What the other tests rely on: an attached extension runs instead of ff_stage()."""
    dispatcher.assert_verdict(XDP_PASS, "without an extension")
    link = dispatcher.extend(dispatcher.load_extension("xdp_ext_drop"), "ext_drop")
    dispatcher.assert_verdict(XDP_DROP, "with ext_drop attached")
    link.close()
    dispatcher.assert_verdict(XDP_PASS, "after ext_drop was detached")


def test_enforced_attach_refused_for_redirecting_extension(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    """libxdp's order: extensions first, then the dispatcher's attach."""
    nsim.advertise(BASIC, netdev_info)
    dispatcher.extend(dispatcher.load_extension("xdp_ext_redirect"), "ext_redirect")
    enforced_refused(nsim.port, dispatcher.fd, errno.EOPNOTSUPP, reach_message(REDIRECT))
    assert_lock(dispatcher.fd, FDINFO_PROG_LOCK, None, "xdp_dispatcher after its refused attach")


def test_enforced_attach_with_redirecting_extension_accepted_on_redirect_device(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    dispatcher.extend(dispatcher.load_extension("xdp_ext_redirect"), "ext_redirect")
    attach_enforced(nsim.port, dispatcher.fd, "xdp_dispatcher extended by ext_redirect")
    assert_lock(dispatcher.fd, FDINFO_PROG_LOCK, BASIC | REDIRECT, "xdp_dispatcher")


def test_locked_dispatcher_refuses_redirecting_extension(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim.port, dispatcher.fd, "xdp_dispatcher")
    assert_lock(dispatcher.fd, FDINFO_PROG_LOCK, BASIC, "xdp_dispatcher")
    dispatcher.extend_refused(dispatcher.load_extension("xdp_ext_redirect"), "ext_redirect")
    # An extension within the lock is attached, and runs.
    dispatcher.extend(dispatcher.load_extension("xdp_ext_drop"), "ext_drop")
    dispatcher.assert_verdict(XDP_DROP, "with ext_drop attached")
    assert_lock(dispatcher.fd, FDINFO_PROG_LOCK, BASIC, "xdp_dispatcher, extended")


def test_lock_outlives_the_dispatcher_attachment(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    """Sticky: detached from the device, the dispatcher still refuses a redirecting extension."""
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim.port, dispatcher.fd, "xdp_dispatcher")
    xdp_attach.detach(nsim.port.ns.ipr, nsim.port.ifindex, XdpMode.NATIVE)
    assert nsim.state().drv_prog_id == 0, f"xdp_dispatcher still attached: {nsim.state()}"
    dispatcher.extend_refused(dispatcher.load_extension("xdp_ext_redirect"), "ext_redirect")


def test_unlocked_dispatcher_takes_any_extension(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    """Attached without enforcement: extensions are not checked (as before the series)."""
    nsim.advertise(BASIC, netdev_info)
    attach_accepted(nsim.port, dispatcher.fd, XdpMode.NATIVE, what="xdp_dispatcher")
    dispatcher.extend(dispatcher.load_extension("xdp_ext_redirect"), "ext_redirect")
    assert_lock(dispatcher.fd, FDINFO_PROG_LOCK, None, "xdp_dispatcher, not enforced")


def test_enforced_attach_refused_for_extension_tail_call_target(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    arrays = _ext_tail(dispatcher, "ext_tail_redirect")
    dispatcher.extend(arrays.obj, "ext_tail")
    enforced_refused(nsim.port, dispatcher.fd, errno.EOPNOTSUPP, reach_message(REDIRECT))
    arrays.assert_locks({"ext_jmp_table": None}, "after the refused attach")
    arrays.insert_accepted("ext_jmp_table", 1, "ext_tail_redirect")


def test_enforced_attach_locks_the_extension_prog_arrays(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    arrays = _ext_tail(dispatcher, "ext_tail_pass")
    dispatcher.extend(arrays.obj, "ext_tail")
    attach_enforced(nsim.port, dispatcher.fd, "xdp_dispatcher extended by ext_tail")
    arrays.assert_locks({"ext_jmp_table": BASIC}, "after the dispatcher's enforced attach")
    arrays.insert_refused("ext_jmp_table", 1, "ext_tail_redirect")


def test_locked_dispatcher_refuses_extension_reaching_redirect(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    """ext_tail needs basic only; the program it tail calls into needs redirect."""
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim.port, dispatcher.fd, "xdp_dispatcher")
    arrays = _ext_tail(dispatcher, "ext_tail_redirect")
    dispatcher.extend_refused(arrays.obj, "ext_tail")
    arrays.assert_locks({"ext_jmp_table": None}, "after the refused extension attach")


def test_extension_attached_to_locked_dispatcher_spreads_the_lock(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim.port, dispatcher.fd, "xdp_dispatcher")
    arrays = _ext_tail(dispatcher, None)
    dispatcher.extend(arrays.obj, "ext_tail")
    arrays.assert_locks({"ext_jmp_table": BASIC}, "after ext_tail joined the dispatcher")
    arrays.insert_refused("ext_jmp_table", 0, "ext_tail_redirect")
    arrays.insert_accepted("ext_jmp_table", 0, "ext_tail_pass")
    dispatcher.assert_verdict(XDP_PASS, "ext_tail tail calling into ext_tail_pass")


def test_enforced_attach_finds_extension_after_another_detached(
    nsim: Nsim, dispatcher: Dispatcher, netdev_info: InfoFn
) -> None:
    """Two extensions on two functions; detaching one clears the dispatcher's is_extended
    (kernel/bpf/trampoline.c), yet the other still runs, and is still checked."""
    nsim.advertise(BASIC, netdev_info)
    drop = dispatcher.extend(dispatcher.load_extension("xdp_ext_drop"), "ext_drop")
    dispatcher.extend(
        dispatcher.load_extension("xdp_ext_redirect"), "ext_redirect", FREPLACE_FUNCTION2
    )
    drop.close()
    dispatcher.assert_verdict(XDP_REDIRECT, "ext_redirect still in place of ff_stage2")
    enforced_refused(nsim.port, dispatcher.fd, errno.EOPNOTSUPP, reach_message(REDIRECT))
