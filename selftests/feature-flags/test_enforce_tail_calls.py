"""Tail calls and the prog_array lock (patch 6), on a netdevsim device.

kernel/bpf/arraymap.c: an enforced native attach walks the prog_arrays the
program can tail call into. If a program in them needs features the device
lacks, the attach fails with EOPNOTSUPP and the extack "XDP tail call targets
need features the device lacks: <names>"; otherwise every reachable
prog_array is locked to the device's features, and inserting a program that
needs more (itself, or through prog_arrays of its own) fails with
EOPNOTSUPP. The lock is sticky: it stays until the map is freed.

progs/xdp_tail_calls.bpf.c: xdp_dispatch -> jmp_table[0];
tail_dispatch2 -> jmp_table2[0]; tail_pass needs basic; tail_redirect needs
basic and redirect. Each test loads the object afresh, so its maps start
unlocked.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

import pytest
from ffcommon import (
    BASIC,
    REDIRECT,
    XDP_FLAGS_ENFORCE_FEATURES,
    Nsim,
    attach_accepted,
    errname,
    feature_names,
    refused,
)
from xdplib import xdp_attach
from xdplib.bpfobj import BpfError, BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.xdp_attach import XdpMode

InfoFn = Callable[[Port], NetdevInfo]
TAIL_PREFIX = "XDP tail call targets need features the device lacks: "


def tail_lacks(missing: int) -> str:
    return TAIL_PREFIX + ", ".join(feature_names(missing))


class Chains:
    """The loaded xdp_tail_calls object, with prog_array updates by program name."""

    def __init__(self, obj: BpfObject) -> None:
        self.obj = obj

    def fd(self, prog: str) -> int:
        return self.obj.prog_fd(prog)

    def insert(self, table: str, slot: int, prog: str) -> None:
        self.obj.map_update(table, struct.pack("I", slot), struct.pack("I", self.fd(prog)))

    def insert_refused(self, table: str, slot: int, prog: str) -> None:
        """The insert must fail with EOPNOTSUPP and leave the slot as it was."""
        before = self.slot(table, slot)
        with pytest.raises(BpfError) as exc:
            self.insert(table, slot, prog)
        assert exc.value.errno == errno.EOPNOTSUPP, (
            f"inserting {prog} into locked {table}[{slot}]: expected EOPNOTSUPP, "
            f"got {errname(exc.value.errno or 0)}"
        )
        after = self.slot(table, slot)
        assert after == before, f"refused insert changed {table}[{slot}]: {before} -> {after}"

    def slot(self, table: str, slot: int) -> int | None:
        """Program id in a slot (a prog_array lookup from user space yields the id)."""
        try:
            raw = self.obj.map_lookup(table, struct.pack("I", slot), 4)
        except BpfError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        return int(struct.unpack("I", raw)[0])


@pytest.fixture
def chains(load_bpf: Callable[..., BpfObject]) -> Chains:
    return Chains(load_bpf("xdp_tail_calls"))


def attach_enforced_refused(nsim: Nsim, chains: Chains, prog: str, missing: int) -> None:
    p = nsim.port
    fd = chains.fd(prog)
    refused(
        p,
        lambda: xdp_attach.attach(
            p.ns.ipr, p.ifindex, fd, XdpMode.NATIVE, extra_flags=XDP_FLAGS_ENFORCE_FEATURES
        ),
        errno.EOPNOTSUPP,
        tail_lacks(missing),
    )


def attach_enforced(nsim: Nsim, chains: Chains, prog: str, mode: XdpMode = XdpMode.NATIVE) -> None:
    attach_accepted(
        nsim.port, chains.fd(prog), mode, XDP_FLAGS_ENFORCE_FEATURES, what=f"{prog}, enforced"
    )


def test_redirecting_target_refuses_enforced_attach(
    nsim: Nsim, chains: Chains, netdev_info: InfoFn
) -> None:
    """The dispatcher needs only basic; what it tail calls into needs redirect."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_redirect")
    attach_enforced_refused(nsim, chains, "xdp_dispatch", REDIRECT)


def test_target_two_tail_calls_away_refuses_enforced_attach(
    nsim: Nsim, chains: Chains, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table2", 0, "tail_redirect")
    chains.insert("jmp_table", 0, "tail_dispatch2")
    attach_enforced_refused(nsim, chains, "xdp_dispatch", REDIRECT)


@pytest.mark.parametrize("mode", [XdpMode.GENERIC, XdpMode.NATIVE], ids=str)
def test_redirecting_target_accepted_when_not_checked(
    nsim: Nsim, chains: Chains, netdev_info: InfoFn, mode: XdpMode
) -> None:
    """Generic mode is never checked; native without enforcement is not either."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_redirect")
    flags = XDP_FLAGS_ENFORCE_FEATURES if mode is XdpMode.GENERIC else 0
    attach_accepted(nsim.port, chains.fd("xdp_dispatch"), mode, flags, what="xdp_dispatch")
    # Not locked either: another redirecting program goes in.
    chains.insert("jmp_table", 1, "tail_redirect")


def test_redirecting_target_accepted_on_redirect_device(
    nsim: Nsim, chains: Chains, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    chains.insert("jmp_table", 0, "tail_redirect")
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert("jmp_table", 1, "tail_redirect")
    assert chains.slot("jmp_table", 1) is not None


def test_locked_map_refuses_a_program_needing_more(
    nsim: Nsim, chains: Chains, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_pass")
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert_refused("jmp_table", 1, "tail_redirect")
    # Replacing the accepted program in slot 0 is refused the same way.
    chains.insert_refused("jmp_table", 0, "tail_redirect")
    # A program within the device's features still goes in.
    chains.insert("jmp_table", 1, "tail_pass")
    assert chains.slot("jmp_table", 1) is not None


def test_empty_map_is_locked_by_the_attach(nsim: Nsim, chains: Chains, netdev_info: InfoFn) -> None:
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert_refused("jmp_table", 0, "tail_redirect")


def test_lock_reaches_prog_arrays_of_targets(
    nsim: Nsim, chains: Chains, netdev_info: InfoFn
) -> None:
    """jmp_table2 is reachable through tail_dispatch2 in jmp_table: locked as well."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_dispatch2")
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert_refused("jmp_table2", 0, "tail_redirect")
    chains.insert("jmp_table2", 0, "tail_pass")


def test_insert_checks_what_the_new_program_reaches(
    nsim: Nsim, chains: Chains, netdev_info: InfoFn
) -> None:
    """tail_dispatch2 needs only basic, but reaches tail_redirect through jmp_table2."""
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert("jmp_table2", 0, "tail_redirect")  # jmp_table2 is not reachable yet
    chains.insert_refused("jmp_table", 0, "tail_dispatch2")


def test_insert_spreads_the_lock(nsim: Nsim, chains: Chains, netdev_info: InfoFn) -> None:
    """Once tail_dispatch2 is in a locked map, its own jmp_table2 is locked."""
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert("jmp_table2", 0, "tail_redirect")  # not reachable yet: accepted
    chains.insert("jmp_table2", 0, "tail_pass")
    chains.insert("jmp_table", 0, "tail_dispatch2")
    chains.insert_refused("jmp_table2", 1, "tail_redirect")


def test_lock_outlives_the_attachment(nsim: Nsim, chains: Chains, netdev_info: InfoFn) -> None:
    """Sticky, as the map owner's other fields: detaching does not unlock."""
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim, chains, "xdp_dispatch")
    xdp_attach.detach(nsim.port.ns.ipr, nsim.port.ifindex, XdpMode.NATIVE)
    chains.insert_refused("jmp_table", 0, "tail_redirect")


def test_maps_not_reached_stay_unlocked(nsim: Nsim, chains: Chains, netdev_info: InfoFn) -> None:
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert("jmp_table2", 0, "tail_redirect")
    assert chains.slot("jmp_table2", 0) is not None


def test_tail_call_cycle_terminates(nsim: Nsim, chains: Chains, netdev_info: InfoFn) -> None:
    """xdp_dispatch in its own jmp_table, and a two-map cycle: the walk ends, checks, locks."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "xdp_dispatch")
    chains.insert("jmp_table", 1, "tail_dispatch2")
    chains.insert("jmp_table2", 0, "xdp_dispatch")
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert_refused("jmp_table2", 1, "tail_redirect")
    chains.insert_refused("jmp_table", 2, "tail_redirect")


def test_second_device_narrows_the_lock(
    nsim: Nsim, fresh_nsim: Nsim, chains: Chains, netdev_info: InfoFn
) -> None:
    """A map reachable from two devices is locked to what both offer."""
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    fresh_nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim, chains, "xdp_dispatch")
    chains.insert("jmp_table", 0, "tail_redirect")
    chains.insert("jmp_table", 0, "tail_pass")  # back to basic only, so the next attach passes
    attach_enforced(fresh_nsim, chains, "xdp_dispatch")
    chains.insert_refused("jmp_table", 1, "tail_redirect")
    xdp_attach.detach(fresh_nsim.port.ns.ipr, fresh_nsim.port.ifindex, XdpMode.NATIVE)


def test_sysctl_checks_tail_call_targets(
    nsim: Nsim, chains: Chains, enforce_sysctl: Callable[[int], None], netdev_info: InfoFn
) -> None:
    """The sysctl makes the tail-call check the default, as for the program's own needs."""
    nsim.advertise(BASIC, netdev_info)
    enforce_sysctl(1)
    chains.insert("jmp_table", 0, "tail_redirect")
    p = nsim.port
    fd = chains.fd("xdp_dispatch")
    refused(
        p,
        lambda: xdp_attach.attach(p.ns.ipr, p.ifindex, fd, XdpMode.NATIVE),
        errno.EOPNOTSUPP,
        tail_lacks(REDIRECT),
    )
