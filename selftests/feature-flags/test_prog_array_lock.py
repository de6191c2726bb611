"""The prog_array lock an enforced attach leaves behind (patch 6).

kernel/bpf/xdp_features.c: once the driver has installed a program attached
with XDP_FLAGS_ENFORCE_FEATURES (bpf_xdp_reach_end(reach, commit = the
install succeeded)), the program and every prog_array it reaches are locked
to the device's features; a map reached from several enforced devices to
the features they all offer. The fdinfo shows it: "xdp_features_allowed:\\t%#x"
for the program, "owner_xdp_features_allowed:\\t%#x" for a prog_array, and
nothing before. An insert into a locked map (BPF_MAP_UPDATE_ELEM) of a
program needing more, itself or through its own prog_arrays, fails with
EOPNOTSUPP and leaves the slot alone; an accepted one spreads the lock to
the prog_arrays the newcomer reaches. A failed attach locks nothing. Locks
are sticky: detaching does not drop them (documented in the cover letter).

progs/xdp_tail_calls.bpf.c: xdp_dispatch -> jmp_table[0]; tail_dispatch2
-> jmp_table2[0]; tail_pass (basic), tail_redirect (basic, redirect).
progs/xdp_tail_chain.bpf.c: chain_prog00 -> chain_map00 <- chain_prog01 ...
-> chain_map39: 40 maps, more than MAX_TAIL_CALL_CNT (33) tail calls.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    FDINFO_PROG_LOCK,
    NDO_XMIT,
    NSIM_NATIVE_REFUSED,
    REDIRECT,
    RX_SG,
    Nsim,
    ProgArrays,
    assert_lock,
    attach_accepted,
    attach_enforced,
    enforced_refused,
    reach_message,
)
from xdplib import xdp_attach
from xdplib.bpfobj import BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.xdp_attach import XDP_FLAGS_UPDATE_IF_NOEXIST, XdpMode

LoadFn = Callable[..., BpfObject]
InfoFn = Callable[[Port], NetdevInfo]
VETH_LIKE = BASIC | REDIRECT | RX_SG  # a mask with more than one bit, to read back
CHAIN_LEN = 40


def chain_prog(i: int) -> str:
    return f"chain_prog{i:02d}"


def chain_map(i: int) -> str:
    return f"chain_map{i:02d}"


@pytest.fixture
def chains(load_bpf: LoadFn) -> ProgArrays:
    return ProgArrays(load_bpf("xdp_tail_calls"))


@pytest.fixture
def chain(load_bpf: LoadFn) -> ProgArrays:
    """The 40-map chain, linked: chain_prog<i+1> in chain_map<i>; chain_map39 empty."""
    arrays = ProgArrays(load_bpf("xdp_tail_chain"))
    for i in range(CHAIN_LEN - 1):
        arrays.insert(chain_map(i), 0, chain_prog(i + 1))
    return arrays


def _dispatch_locked(chains: ProgArrays, lock: int | None, what: str) -> None:
    assert_lock(chains.fd("xdp_dispatch"), FDINFO_PROG_LOCK, lock, f"xdp_dispatch {what}")


def test_nothing_is_locked_before_an_enforced_attach(chains: ProgArrays) -> None:
    chains.insert("jmp_table", 0, "tail_dispatch2")
    chains.assert_locks({"jmp_table": None, "jmp_table2": None}, "freshly loaded")
    _dispatch_locked(chains, None, "freshly loaded")


def test_attach_locks_program_and_reached_maps_to_the_device_features(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    nsim.advertise(VETH_LIKE, netdev_info)
    chains.insert("jmp_table", 0, "tail_dispatch2")
    attach_enforced(nsim.port, chains.fd("xdp_dispatch"), "xdp_dispatch")
    chains.assert_locks({"jmp_table": VETH_LIKE, "jmp_table2": VETH_LIKE}, "after the attach")
    _dispatch_locked(chains, VETH_LIKE, "after its enforced attach")
    # Only the installed program is locked, not the programs it reaches.
    assert_lock(chains.fd("tail_dispatch2"), FDINFO_PROG_LOCK, None, "tail_dispatch2")


def test_maps_not_reached_stay_unlocked(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim.port, chains.fd("xdp_dispatch"), "xdp_dispatch")
    chains.assert_locks({"jmp_table": BASIC, "jmp_table2": None}, "jmp_table2 is not reachable")
    chains.insert_accepted("jmp_table2", 0, "tail_redirect")


@dataclass(frozen=True)
class Failure:
    """A way for xdp_dispatch's enforced native attach to fail on a basic-only device."""

    name: str
    code: int
    extack: str
    setup: Callable[[Nsim, ProgArrays, LoadFn], None]
    flags: int = 0

    def __str__(self) -> str:
        return self.name


def _redirecting_target(nsim: Nsim, chains: ProgArrays, load_bpf: LoadFn) -> None:
    chains.insert("jmp_table", 1, "tail_redirect")


def _generic_program_attached(nsim: Nsim, chains: ProgArrays, load_bpf: LoadFn) -> None:
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    attach_accepted(nsim.port, fd, XdpMode.GENERIC, what="xdp_pass, generic")


def _native_program_attached(nsim: Nsim, chains: ProgArrays, load_bpf: LoadFn) -> None:
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    attach_accepted(nsim.port, fd, XdpMode.NATIVE, what="xdp_pass, native")


def _driver_refuses(nsim: Nsim, chains: ProgArrays, load_bpf: LoadFn) -> None:
    nsim.accept_native(False)


FAILURES = [
    # Checked and refused: the walk found tail_redirect.
    Failure("target-refused", errno.EOPNOTSUPP, reach_message(REDIRECT), _redirecting_target),
    # The core refuses before the check (dev_xdp_install()).
    Failure(
        "generic-attached",
        errno.EEXIST,
        "Native and generic XDP can't be active at the same time",
        _generic_program_attached,
    ),
    # The core refuses before the check (dev_xdp_attach()).
    Failure(
        "update-if-noexist",
        errno.EBUSY,
        "XDP program already attached",
        _native_program_attached,
        XDP_FLAGS_UPDATE_IF_NOEXIST,
    ),
    # The check passes, then the driver refuses (bpf_op): the walk's commit is dropped.
    Failure("driver-refuses", errno.EOPNOTSUPP, NSIM_NATIVE_REFUSED, _driver_refuses),
]


@pytest.mark.parametrize("failure", FAILURES, ids=str)
def test_failed_attach_locks_nothing(
    nsim: Nsim, chains: ProgArrays, load_bpf: LoadFn, netdev_info: InfoFn, failure: Failure
) -> None:
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_pass")
    failure.setup(nsim, chains, load_bpf)
    enforced_refused(
        nsim.port, chains.fd("xdp_dispatch"), failure.code, failure.extack, flags=failure.flags
    )
    chains.assert_locks({"jmp_table": None}, f"after the attach failed ({failure})")
    _dispatch_locked(chains, None, f"after its attach failed ({failure})")
    # Unlocked indeed: a redirecting program still goes in.
    chains.insert_accepted("jmp_table", 2, "tail_redirect")


def test_locked_map_refuses_a_program_needing_more(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_pass")
    attach_enforced(nsim.port, chains.fd("xdp_dispatch"), "xdp_dispatch")
    chains.insert_refused("jmp_table", 1, "tail_redirect")
    # Replacing the accepted program in slot 0 is refused the same way.
    chains.insert_refused("jmp_table", 0, "tail_redirect")
    # A program within the device's features still goes in; the lock is unchanged.
    chains.insert_accepted("jmp_table", 1, "tail_pass")
    chains.assert_locks({"jmp_table": BASIC}, "after the refused and accepted inserts")


def test_insert_checks_what_the_new_program_reaches(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    """tail_dispatch2 needs only basic, but reaches tail_redirect through jmp_table2."""
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim.port, chains.fd("xdp_dispatch"), "xdp_dispatch")
    chains.insert_accepted("jmp_table2", 0, "tail_redirect")  # not reachable yet
    chains.insert_refused("jmp_table", 0, "tail_dispatch2")
    chains.assert_locks({"jmp_table": BASIC, "jmp_table2": None}, "after the refused insert")


def test_insert_spreads_the_lock(nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn) -> None:
    """Once tail_dispatch2 is in a locked map, its own jmp_table2 is locked."""
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim.port, chains.fd("xdp_dispatch"), "xdp_dispatch")
    chains.insert_accepted("jmp_table2", 0, "tail_pass")
    chains.assert_locks({"jmp_table2": None}, "before tail_dispatch2 joins jmp_table")
    chains.insert_accepted("jmp_table", 0, "tail_dispatch2")
    chains.assert_locks({"jmp_table": BASIC, "jmp_table2": BASIC}, "after it joined")
    chains.insert_refused("jmp_table2", 1, "tail_redirect")


def test_map_reachable_from_itself(nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn) -> None:
    """xdp_dispatch sits in the map it tail calls into: the attach and later inserts end."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "xdp_dispatch")
    attach_enforced(nsim.port, chains.fd("xdp_dispatch"), "xdp_dispatch")
    chains.assert_locks({"jmp_table": BASIC}, "after the attach")
    chains.insert_accepted("jmp_table", 1, "xdp_dispatch")
    chains.insert_refused("jmp_table", 2, "tail_redirect")


def test_insert_closing_a_two_map_cycle(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    """jmp_table2 holds xdp_dispatch, which reaches the locked jmp_table: the insert of
    tail_dispatch2 into jmp_table closes the cycle, ends, and locks jmp_table2."""
    nsim.advertise(BASIC, netdev_info)
    attach_enforced(nsim.port, chains.fd("xdp_dispatch"), "xdp_dispatch")
    chains.insert_accepted("jmp_table2", 0, "xdp_dispatch")
    chains.insert_accepted("jmp_table", 0, "tail_dispatch2")
    chains.assert_locks({"jmp_table": BASIC, "jmp_table2": BASIC}, "after closing the cycle")
    chains.insert_refused("jmp_table2", 1, "tail_redirect")
    chains.insert_refused("jmp_table", 1, "tail_redirect")


def test_chain_longer_than_tail_call_limit_is_walked_to_its_end(
    nsim: Nsim, chain: ProgArrays, netdev_info: InfoFn
) -> None:
    """A target 40 tail calls away can never run (MAX_TAIL_CALL_CNT is 33), but the walk
    does not count: it follows the chain to the end and refuses, erring on the safe side
    (reach_walk()'s comment)."""
    nsim.advertise(BASIC, netdev_info)
    chain.insert(chain_map(CHAIN_LEN - 1), 0, "chain_end_redirect")
    enforced_refused(nsim.port, chain.fd(chain_prog(0)), errno.EOPNOTSUPP, reach_message(REDIRECT))
    chain.assert_locks({chain_map(i): None for i in range(CHAIN_LEN)}, "after the refused attach")


def test_chain_longer_than_tail_call_limit_is_locked_to_its_end(
    nsim: Nsim, chain: ProgArrays, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    chain.insert(chain_map(CHAIN_LEN - 1), 0, "chain_end_pass")
    attach_enforced(nsim.port, chain.fd(chain_prog(0)), chain_prog(0))
    chain.assert_locks({chain_map(i): BASIC for i in range(CHAIN_LEN)}, "after the attach")
    chain.insert_refused(chain_map(CHAIN_LEN - 1), 0, "chain_end_redirect")
    # Closing the chain into a 40-map cycle: the insert's walk ends too.
    chain.insert_accepted(chain_map(CHAIN_LEN - 1), 0, chain_prog(0))


def test_map_reached_from_two_devices_is_locked_to_their_common_features(
    nsim: Nsim, fresh_nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    first, second = BASIC | REDIRECT | NDO_XMIT, BASIC | REDIRECT | RX_SG
    nsim.advertise(first, netdev_info)
    fresh_nsim.advertise(second, netdev_info)
    fd = chains.fd("xdp_dispatch")
    attach_enforced(nsim.port, fd, "xdp_dispatch on the first device")
    chains.assert_locks({"jmp_table": first}, "after the first device's attach")
    attach_enforced(fresh_nsim.port, fd, "xdp_dispatch on the second device")
    chains.assert_locks({"jmp_table": first & second}, "after the second device's attach")
    _dispatch_locked(chains, first & second, "attached to both devices")
    chains.insert_accepted("jmp_table", 0, "tail_redirect")


def test_second_device_lacking_what_the_map_holds_is_refused(
    nsim: Nsim, fresh_nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    """The second attach checks what the map holds now, and narrows nothing when refused."""
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    fresh_nsim.advertise(BASIC, netdev_info)
    fd = chains.fd("xdp_dispatch")
    attach_enforced(nsim.port, fd, "xdp_dispatch on the redirect device")
    chains.insert_accepted("jmp_table", 0, "tail_redirect")
    enforced_refused(fresh_nsim.port, fd, errno.EOPNOTSUPP, reach_message(REDIRECT))
    chains.assert_locks({"jmp_table": BASIC | REDIRECT}, "after the refused second attach")
    chains.insert("jmp_table", 0, "tail_pass")
    attach_enforced(fresh_nsim.port, fd, "xdp_dispatch on the basic device")
    chains.assert_locks({"jmp_table": BASIC}, "after the second attach")
    chains.insert_refused("jmp_table", 1, "tail_redirect")


def test_lock_is_sticky(nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn) -> None:
    """Detaching does not unlock, and a later attach to a richer device cannot widen it:
    the lock is the intersection over every enforced attach there ever was."""
    nsim.advertise(BASIC, netdev_info)
    fd = chains.fd("xdp_dispatch")
    attach_enforced(nsim.port, fd, "xdp_dispatch")
    xdp_attach.detach(nsim.port.ns.ipr, nsim.port.ifindex, XdpMode.NATIVE)
    chains.assert_locks({"jmp_table": BASIC}, "after the detach")
    _dispatch_locked(chains, BASIC, "after the detach")
    chains.insert_refused("jmp_table", 0, "tail_redirect")
    nsim.advertise(ALL_FEATURES, netdev_info)
    attach_enforced(nsim.port, fd, "xdp_dispatch on the device now advertising everything")
    chains.assert_locks({"jmp_table": BASIC}, "after an attach to a richer device")
    chains.insert_refused("jmp_table", 0, "tail_redirect")
