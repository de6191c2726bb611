"""An enforced attach checks the program's tail call targets (patch 6).

kernel/bpf/xdp_features.c bpf_xdp_reach_begin(): an enforced native attach
walks the prog_arrays the program can tail call into, breadth first, each
map once, and the prog_arrays of the programs found there. If a program in
them needs features the device lacks, the attach fails with EOPNOTSUPP and
the extack "XDP tail calls or extensions need features the device lacks:
<names>" (net/core/dev.c dev_xdp_enforce_begin()); the program's own
features are checked first, with the other message. Attaches without the
flag are not checked, and lock nothing. What happens
after the attach (the locks) is in test_prog_array_lock.py.

progs/xdp_tail_calls.bpf.c: xdp_dispatch -> jmp_table[0]; tail_dispatch2
-> jmp_table2[0]; tail_pass needs basic; tail_redirect needs basic and
redirect. Each test loads the object afresh, so its maps start unlocked.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from ffcommon import (
    BASIC,
    FDINFO_PROG_LOCK,
    REDIRECT,
    Nsim,
    ProgArrays,
    assert_lock,
    attach_accepted,
    attach_enforced,
    enforced_refused,
    reach_message,
)
from xdplib.bpfobj import BpfObject
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port
from xdplib.xdp_attach import XdpMode

InfoFn = Callable[[Port], NetdevInfo]


@pytest.fixture
def chains(load_bpf: Callable[..., BpfObject]) -> ProgArrays:
    return ProgArrays(load_bpf("xdp_tail_calls"))


def _refused_for_targets(nsim: Nsim, chains: ProgArrays, missing: int) -> None:
    """xdp_dispatch's enforced attach is refused for what it reaches; nothing gets locked."""
    fd = chains.fd("xdp_dispatch")
    enforced_refused(nsim.port, fd, errno.EOPNOTSUPP, reach_message(missing))
    chains.assert_locks({"jmp_table": None, "jmp_table2": None}, "after the refused attach")
    assert_lock(fd, FDINFO_PROG_LOCK, None, "xdp_dispatch after its refused attach")


def test_redirecting_target_refuses_enforced_attach(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    """The dispatcher needs only basic; what it tail calls into needs redirect."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_redirect")
    _refused_for_targets(nsim, chains, REDIRECT)


def test_target_in_any_slot_refuses_enforced_attach(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    """The program tail calls into slot 0 only, but the walk cannot know the index."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_pass")
    chains.insert("jmp_table", 3, "tail_redirect")
    _refused_for_targets(nsim, chains, REDIRECT)


def test_target_two_tail_calls_away_refuses_enforced_attach(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table2", 0, "tail_redirect")
    chains.insert("jmp_table", 0, "tail_dispatch2")
    _refused_for_targets(nsim, chains, REDIRECT)


def test_target_behind_cycles_refuses_enforced_attach(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    """xdp_dispatch in its own map and a two-map cycle: the walk ends, and finds the target."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "xdp_dispatch")
    chains.insert("jmp_table", 1, "tail_dispatch2")
    chains.insert("jmp_table2", 0, "xdp_dispatch")
    chains.insert("jmp_table2", 1, "tail_redirect")
    _refused_for_targets(nsim, chains, REDIRECT)


@pytest.mark.parametrize("mode", [XdpMode.NATIVE, XdpMode.GENERIC], ids=str)
def test_redirecting_target_accepted_without_enforcement(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn, mode: XdpMode
) -> None:
    """Not checked, and nothing locked: another redirecting program still goes in."""
    nsim.advertise(BASIC, netdev_info)
    chains.insert("jmp_table", 0, "tail_redirect")
    fd = chains.fd("xdp_dispatch")
    attach_accepted(nsim.port, fd, mode, what="xdp_dispatch, not enforced")
    chains.assert_locks({"jmp_table": None}, f"after the {mode} attach")
    assert_lock(fd, FDINFO_PROG_LOCK, None, f"xdp_dispatch after its {mode} attach")
    chains.insert_accepted("jmp_table", 1, "tail_redirect")


def test_redirecting_target_accepted_on_redirect_device(
    nsim: Nsim, chains: ProgArrays, netdev_info: InfoFn
) -> None:
    nsim.advertise(BASIC | REDIRECT, netdev_info)
    chains.insert("jmp_table", 0, "tail_redirect")
    attach_enforced(nsim.port, chains.fd("xdp_dispatch"), "xdp_dispatch")
    chains.insert_accepted("jmp_table", 1, "tail_redirect")
