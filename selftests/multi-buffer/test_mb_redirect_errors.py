"""Multi-buffer frames redirected to devices that cannot transmit them: failed redirects.

A device that can take redirected frames advertises NDO_XMIT, and
NDO_XMIT_SG if it takes multi-buffer ones. Two such devices here, in the
receiver's namespace:

- a tap device: tun implements ndo_xdp_xmit() and advertises NDO_XMIT but
  not NDO_XMIT_SG; what it transmits is read back from its file descriptor;
- veth2, whose peer has no XDP program and no GRO: veth then advertises
  neither NDO_XMIT nor NDO_XMIT_SG.

Native XDP checks the target's xdp_features: a multi-buffer frame sent
there by bpf_redirect() or a devmap entry fails (-EOPNOTSUPP, 6.12 already),
and so, with the multi-buffer series, does a devmap broadcast that leaves
no member able to send it. A failed redirect fires xdp:xdp_redirect_err
(err=-95) and counts in the device's redirect-errors; the verdict itself
counts in redirect-packets and redirect-mb-packets. A native broadcast
with some member that can send the frame sends it there and fails nothing;
an empty map, or one whose only member is excluded (BPF_F_EXCLUDE_INGRESS),
consumes the frame silently, as before. Single-buffer frames to the tap
device go through (the control).

Generic XDP transmits redirected frames as skbs, without looking at
xdp_features: to one target, they arrive whole. A broadcast to more than
one member clones the skb for all but the last, and 6.12.118 refuses to
clone a nonlinear one (dev_map_redirect_clone(): -EOPNOTSUPP): the redirect
fails and no member gets the frame.

The tracepoint's to_ifindex is the device of the map entry at the key the
program passed (also for a broadcast, whose key is otherwise unused), or 0.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from mbcommon import (
    R_BROADCAST,
    R_BROADCAST_EXCLUDE_INGRESS,
    R_IFINDEX,
    R_MAP,
    XDP_PASS,
    XDP_REDIRECT,
    AttachProg,
    Config,
    JumboRedirect,
    MbProg,
    RawCapture,
    Tap,
    TraceFn,
    build_frame,
    check_delivered,
    collect_all,
    jumbo_veth,
    send_frames,
    veth_shape,
)
from mbstats import MbStats, counters_diff, expected_counters
from xdplib.netns import NetNS, Port
from xdplib.tracefs import TraceInstance
from xdplib.traffic import ARRIVAL_TIMEOUT, SILENCE_TIMEOUT
from xdplib.xdp_attach import XdpMode

EOPNOTSUPP = -errno.EOPNOTSUPP
INT_MAX = 2**31 - 1  # map_id of bpf_redirect()'s tracepoints
HASH_KEY = 7
MB_SIZES = (4000, 9014, 3521, 7617)
SB_SIZES = (1000, 3000)


@dataclass
class Rig:
    """jumbo_redirect, plus in the receiver's namespace a tap device and veth4 (its
    peer veth5 runs an XDP_PASS program: veth4 has NDO_XMIT_SG)."""

    t: JumboRedirect
    tap: Tap
    sg: Port
    sg_peer: Port


@pytest.fixture
def rig(
    jumbo_redirect: JumboRedirect, attach_prog: AttachProg, make_netns: Callable[[], NetNS]
) -> Iterator[Rig]:
    t = jumbo_redirect
    tap = Tap(t.receiver.ns, "mbtap0")
    try:
        sg, sg_peer = jumbo_veth(t.receiver.ns, "veth4", make_netns(), "veth5")
        attach_prog(sg_peer, XdpMode.NATIVE).configure(Config(verdict=XDP_PASS))
        yield Rig(t, tap, sg, sg_peer)
    finally:
        tap.close()


@dataclass(frozen=True)
class Case:
    name: str
    redirect: int
    # where the frames go: "tap", "veth2" (no NDO_XMIT), "sg" (veth4), "ingress"
    members: tuple[str, ...]
    hash_map: bool = False
    fails: dict[XdpMode, bool] = field(default_factory=dict)
    arrive_at: dict[XdpMode, str | None] = field(default_factory=dict)
    single_buffer: bool = False

    def to_ifindex(self, rig: Rig) -> int:
        """The tracepoint's to_ifindex: the device of the map entry at the key the
        program passed, broadcast or not (0 if there is none there)."""
        if self.redirect == R_IFINDEX or not self.hash_map:
            return port_of(rig, self.members[0]).ifindex if self.members else 0
        return port_of(rig, self.members[0]).ifindex if self.redirect == R_MAP else 0

    def map_id(self, prog: MbProg) -> int:
        if self.redirect == R_IFINDEX:
            return INT_MAX
        return prog.map_id("tx_hash" if self.hash_map else "tx_port")

    def map_index(self) -> int:
        if self.redirect == R_MAP:
            return HASH_KEY if self.hash_map else 0
        return 0


def port_of(rig: Rig, name: str) -> Port:
    return {
        "tap": rig.tap.port,
        "veth2": rig.t.target,
        "sg": rig.sg,
        "ingress": rig.t.receiver,
    }[name]


NATIVE, GENERIC = XdpMode.NATIVE, XdpMode.GENERIC
FAIL_NATIVE = {NATIVE: True, GENERIC: False}
NEVER = {NATIVE: False, GENERIC: False}

CASES = (
    Case("bpf_redirect-tap", R_IFINDEX, ("tap",), fails=FAIL_NATIVE, arrive_at={GENERIC: "tap"}),
    Case(
        "bpf_redirect-veth", R_IFINDEX, ("veth2",), fails=FAIL_NATIVE, arrive_at={GENERIC: "veth2"}
    ),
    Case("devmap-tap", R_MAP, ("tap",), fails=FAIL_NATIVE, arrive_at={GENERIC: "tap"}),
    Case("devmap-veth", R_MAP, ("veth2",), fails=FAIL_NATIVE, arrive_at={GENERIC: "veth2"}),
    Case("devmap-hash-tap", R_MAP, ("tap",), True, FAIL_NATIVE, {GENERIC: "tap"}),
    Case("broadcast-tap", R_BROADCAST, ("tap",), fails=FAIL_NATIVE, arrive_at={GENERIC: "tap"}),
    Case("broadcast-hash-tap", R_BROADCAST, ("tap",), True, FAIL_NATIVE, {GENERIC: "tap"}),
    Case(
        "broadcast-veth", R_BROADCAST, ("veth2",), fails=FAIL_NATIVE, arrive_at={GENERIC: "veth2"}
    ),
    # natively, one member can send it: no failure, it goes there; generic XDP
    # does not clone a multi-buffer skb for a second member: it fails
    Case(
        "broadcast-tap-and-sg",
        R_BROADCAST,
        ("tap", "sg"),
        fails={NATIVE: False, GENERIC: True},
        arrive_at={NATIVE: "sg"},
    ),
    # nothing to send to: consumed, as before the series
    Case("broadcast-empty", R_BROADCAST, (), fails=NEVER),
    Case("broadcast-only-ingress", R_BROADCAST_EXCLUDE_INGRESS, ("ingress",), fails=NEVER),
    # the control: tun sends single-buffer frames
    Case(
        "bpf_redirect-tap-single-buffer",
        R_IFINDEX,
        ("tap",),
        fails=NEVER,
        arrive_at={NATIVE: "tap", GENERIC: "tap"},
        single_buffer=True,
    ),
)


def redirect_errors(trace: TraceInstance, ifindex: int) -> list[dict[str, str]]:
    """The xdp_redirect_err events of the device."""
    events = trace.events("xdp_redirect_err")
    return [e.fields for e in events if e.fields.get("ifindex") == str(ifindex)]


@pytest.mark.parametrize("mode", (NATIVE, GENERIC), ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_redirect_multi_buffer(
    rig: Rig,
    attach_prog: AttachProg,
    stats: MbStats,
    trace: TraceFn,
    case: Case,
    mode: XdpMode,
) -> None:
    t = rig.t
    prog = attach_prog(t.receiver, mode)
    for i, name in enumerate(case.members):
        port = port_of(rig, name)
        key = HASH_KEY + i if case.hash_map else i
        prog.set_devmap(t.receiver.ns, key, port.ifindex, case.hash_map)
    prog.configure(
        Config(
            verdict=XDP_REDIRECT,
            redirect=case.redirect,
            ifindex=port_of(rig, case.members[0]).ifindex if case.members else 0,
            map_key=HASH_KEY if case.hash_map else 0,
            use_hash=case.hash_map,
            mb_only=not case.single_buffer,
        )
    )
    stats.enable(t.receiver)
    errs = trace("xdp/xdp_redirect_err")
    sizes = SB_SIZES if case.single_buffer else MB_SIZES
    frames = {
        (i, i): build_frame(t.sender.mac, t.receiver.mac, size, slot=i, seq=i)
        for i, size in enumerate(sizes)
    }
    mb = sum(1 for f in frames.values() if veth_shape(len(f)).nr_frags)
    assert mb == (0 if case.single_buffer else len(frames))

    with RawCapture(t.target_peer) as at_veth3, RawCapture(rig.sg_peer) as at_sg:
        send_frames(t.sender, frames.values())
        prog.wait_frames(len(frames))
        dest = case.arrive_at.get(mode)
        expect: dict[str, list[tuple[int, int]]] = {"tap": [], "veth2": [], "sg": []}
        for name in (dest or "").split("+"):
            if name:
                expect[name] = list(frames)
        at_tap, got3, got_sg = collect_all(
            [
                (rig.tap, len(expect["tap"])),
                (at_veth3, len(expect["veth2"])),
                (at_sg, len(expect["sg"])),
            ],
            ARRIVAL_TIMEOUT,
            SILENCE_TIMEOUT,
        )

    what = f"{case.name} ({mode})"
    for name, got in (("tap", at_tap), ("veth2", got3), ("sg", got_sg)):
        want = {k: frames[k] for k in expect[name]}
        check_delivered(got, want, f"{what}: at {name}")

    fails = case.fails[mode]
    n = len(frames)
    nbytes = sum(len(f) for f in frames.values())
    totals = prog.totals()
    assert totals.bucket("redirect") == (n, nbytes, mb), f"{what}: the program tallied {totals}"
    want_counters = expected_counters(
        redirect=(n, nbytes, mb), redirect_errors=(n if fails else 0, 0, 0)
    )
    got_counters = stats.get(t.receiver)
    assert got_counters == want_counters, f"{what}: xdp-stats of {t.receiver}: " + counters_diff(
        got_counters, want_counters
    )

    traced = redirect_errors(errs, t.receiver.ifindex)
    assert len(traced) == (n if fails else 0), (
        f"{what}: {len(traced)} xdp_redirect_err events: {traced[:3]}"
    )
    for ev in traced:
        want_ev = {
            "err": str(EOPNOTSUPP),
            "to_ifindex": str(case.to_ifindex(rig)),
            "map_id": str(case.map_id(prog)),
            "map_index": str(case.map_index()),
        }
        got_ev = {k: ev.get(k) for k in want_ev}
        assert got_ev == want_ev, f"{what}: xdp_redirect_err {ev}, expected {want_ev}"
