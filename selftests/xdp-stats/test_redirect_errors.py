"""redirect-errors counts redirects the core could not carry out, and nothing else.

The program's XDP_REDIRECT is counted as a redirect whatever happens next;
redirect-errors counts, on the device whose program redirected, the
failures of xdp_do_redirect() (native) and xdp_do_generic_redirect()
(generic), exactly where the kernel fires the xdp:xdp_redirect_err
tracepoint (xdp:xdp_redirect_map_err is defined but never fired: the map
variant of the trace macro fires xdp_redirect_err too). Which redirects
fail is the core's business and differs per mode; the cases:

- ``bpf_redirect()`` to an ifindex with no device: fails in both modes (-EINVAL).
- devmap slot holding a device that is down: fails in both modes (-ENETDOWN).
- devmap slot holding a veth whose peer has neither an XDP program nor GRO:
  native XDP checks the target's xdp_features, and such a veth lacks
  NDO_XMIT (-EOPNOTSUPP); generic XDP transmits through the stack, and the
  frames arrive.
- an empty devmap slot: bpf_redirect_map() with flags 0 makes the program
  return XDP_ABORTED: an aborted verdict, not a redirect, not an error.

None of them is an xmit drop: those are frames a devmap flush handed to a
driver that refused them (test_xmit_drops.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from xdplib.topology import RedirectTopology
from xdplib.tracefs import TraceInstance
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import BOTH_MODES, XdpMode
from xdplib.xdp_stats import XdpCounters, XdpStatsReader
from xscommon import (
    NO_SUCH_IFINDEX,
    SEL_REDIRECT_IFINDEX,
    SELECTOR,
    AttachFn,
    AttachPassFn,
    TraceFn,
    VerdictProg,
    expect_port_counters,
    make_batch,
    mismatch,
)

N = 8
REDIRECT_ERR_EVENTS = ("xdp/xdp_redirect_err", "xdp/xdp_redirect_map_err")


@dataclass(frozen=True)
class Case:
    name: str
    selector: str
    verdict: str  # the bucket the program's return lands in
    fails: dict[XdpMode, bool]  # does the core's redirect fail, per mode
    setup: Callable[[RedirectTopology, VerdictProg], None]
    peer_prog: bool = False  # a native XDP_PASS program on target_peer: target has NDO_XMIT


def _bad_ifindex(t: RedirectTopology, prog: VerdictProg) -> None:
    assert NO_SUCH_IFINDEX not in {t.receiver.ns.ifindex(n) for n in ("lo", "veth1", "veth2")}
    prog.set_redirect_ifindex(NO_SUCH_IFINDEX)


def _target_down(t: RedirectTopology, prog: VerdictProg) -> None:
    prog.set_slot(0, t.target.ifindex, t.receiver.ns)
    t.target.ns.ipr.link("set", index=t.target.ifindex, state="down")


def _target_without_ndo_xmit(t: RedirectTopology, prog: VerdictProg) -> None:
    # target_peer has no XDP program and GRO off (veth's default): veth does not
    # advertise NDO_XMIT on target.
    prog.set_slot(0, t.target.ifindex, t.receiver.ns)


def _empty_slot(t: RedirectTopology, prog: VerdictProg) -> None:
    pass  # tx_port slot 0 left empty


BOTH = dict.fromkeys(BOTH_MODES, True)
CASES = (
    Case("no-such-ifindex", SEL_REDIRECT_IFINDEX, "redirect", BOTH, _bad_ifindex),
    Case("devmap-target-down", SELECTOR["redirect"], "redirect", BOTH, _target_down, True),
    Case(
        "devmap-target-without-ndo-xmit",
        SELECTOR["redirect"],
        "redirect",
        {XdpMode.NATIVE: True, XdpMode.GENERIC: False},
        _target_without_ndo_xmit,
    ),
    Case(
        "empty-devmap-slot",
        SELECTOR["redirect"],
        "aborted",
        dict.fromkeys(BOTH_MODES, False),
        _empty_slot,
    ),
)


def errors_traced(trace: TraceInstance, ifindex: int) -> dict[str, int]:
    """xdp_redirect_err and xdp_redirect_map_err events for the device, by event."""
    out = {"xdp_redirect_err": 0, "xdp_redirect_map_err": 0}
    for e in trace.events():
        if e.event in out and e.fields.get("ifindex") == str(ifindex):
            out[e.event] += 1
    return out


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_redirect_errors(
    redirect_topology: RedirectTopology,
    verdict_prog: Callable[[], VerdictProg],
    attach_pass: AttachPassFn,
    attach: AttachFn,
    stats: XdpStatsReader,
    trace: TraceFn,
    case: Case,
    mode: XdpMode,
) -> None:
    t = redirect_topology
    prog = verdict_prog()
    if case.peer_prog:
        attach_pass(t.target_peer)
    case.setup(t, prog)
    attach(t.receiver, prog.fd, mode)
    stats.enable(t.receiver, t.target)
    errors = trace(*REDIRECT_ERR_EVENTS)
    flow = Flow(src_mac=t.sender.mac, dst_mac=t.receiver.mac)
    batch = make_batch(flow, case.selector, N)
    fails = case.fails[mode]
    delivered = case.verdict == "redirect" and not fails

    got = exchange_split(
        t.sender,
        flow,
        batch.markers,
        {t.receiver: [], t.target_peer: batch.markers if delivered else []},
    )

    assert not got[t.receiver].markers, f"{t.receiver}'s stack saw {got[t.receiver].describe()}"
    arrived = got[t.target_peer]
    assert sorted(arrived.markers) == (sorted(batch.markers) if delivered else []), (
        f"{case.name} ({mode}): expected {N if delivered else 0} frames at {t.target_peer}, "
        f"{arrived.describe()}"
    )
    tally = prog.tally()
    returned = XdpCounters.of(**{f"{case.verdict}_": batch.totals})
    assert tally.crafted == returned, mismatch("the program's tally", returned, tally.crafted)
    expected = tally.as_counted() + XdpCounters(redirect_errors=N if fails else 0)
    what = f"{case.name} ({mode})"
    # The target transmits; it runs no program and counts nothing, not even errors.
    expect_port_counters(stats.counters, {t.receiver: expected, t.target: XdpCounters()}, what)
    traced = errors_traced(errors, t.receiver.ifindex)
    assert traced == {"xdp_redirect_err": N if fails else 0, "xdp_redirect_map_err": 0}, (
        f"{what}: redirect-errors is {expected.redirect_errors}; the kernel traced {traced} "
        f"for ifindex {t.receiver.ifindex}"
    )
