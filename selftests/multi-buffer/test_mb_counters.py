"""The multi-buffer counters of the XDP statistics: {verdict}-mb-packets.

Each verdict's packets that were multi-buffer frames, counted on the
receiving device (xdp-stats-set enables counting, xdp-stats-get reads it;
attributes 17 to 22), native and generic XDP. Every verdict gets the same
mix of single-buffer and multi-buffer frames; the counters must equal what
the program says it returned, to the packet and byte.

A frame counts as it is when the program returns (as its bytes do,
Documentation/networking/xdp-stats.rst): one whose frags a shrink emptied
is a single-buffer frame of the shorter length then.
"""

from __future__ import annotations

import pytest
from mbcommon import (
    ACTIONS,
    OP_TAIL,
    R_IFINDEX,
    XDP_ABORTED,
    XDP_DROP,
    XDP_INVALID,
    XDP_PASS,
    XDP_REDIRECT,
    XDP_TX,
    AttachProg,
    Config,
    JumboRedirect,
    MbProg,
    build_frame,
    send_frames,
    veth_shape,
)
from mbstats import MbStats, counters_diff, expected_counters
from xdplib.xdp_attach import BOTH_MODES, XdpMode

SIZES = (1000, 3520, 3521, 4000, 9014)
VERDICTS = {
    "aborted": XDP_ABORTED,
    "drop": XDP_DROP,
    "pass": XDP_PASS,
    "tx": XDP_TX,
    "redirect": XDP_REDIRECT,
    "invalid": XDP_INVALID,
}


def tallied(prog: MbProg) -> dict[str, int]:
    """The program's tallies as the statistics' counters."""
    t = prog.totals()
    out = expected_counters()
    for i, action in enumerate(ACTIONS):
        out[f"{action}-packets"] = t.packets[i]
        out[f"{action}-bytes"] = t.bytes[i]
        out[f"{action}-mb-packets"] = t.mb_packets[i]
    return out


def check(stats: MbStats, prog: MbProg, t: JumboRedirect, want: dict[str, int], what: str) -> None:
    got_prog = tallied(prog)
    assert got_prog == want, f"{what}: the program's tallies: " + counters_diff(got_prog, want)
    got = stats.get(t.receiver)
    assert got == want, f"{what}: xdp-stats of {t.receiver}: " + counters_diff(got, want)


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_mb_packets_per_verdict(
    jumbo_redirect: JumboRedirect, attach_prog: AttachProg, stats: MbStats, mode: XdpMode
) -> None:
    t = jumbo_redirect
    # XDP_TX and redirected frames reach veth peers that run a program
    for port in (t.sender, t.target_peer):
        attach_prog(port, XdpMode.NATIVE).configure(Config(verdict=XDP_PASS))
    prog = attach_prog(t.receiver, mode)
    stats.enable(t.receiver)
    want = expected_counters()
    check(stats, prog, t, want, f"{mode}, before any frame")
    seq = 0
    for action, verdict in VERDICTS.items():
        prog.configure(Config(verdict=verdict, redirect=R_IFINDEX, ifindex=t.target.ifindex))
        frames = [
            build_frame(t.sender.mac, t.receiver.mac, n, i, seq + i) for i, n in enumerate(SIZES)
        ]
        seq += len(frames)
        send_frames(t.sender, frames)
        prog.wait_frames(seq)
        want[f"{action}-packets"] += len(frames)
        want[f"{action}-bytes"] += sum(SIZES)
        want[f"{action}-mb-packets"] += sum(1 for n in SIZES if veth_shape(n).nr_frags)
        check(stats, prog, t, want, f"{mode}, after the {action} frames")


# (size, delta): shrinks that leave frags, and ones that empty them
SHRINKS_NATIVE = ((4000, -100), (9014, -1000))
SHRINKS_GENERIC = (*SHRINKS_NATIVE, (4000, -480), (9014, -5494))


@pytest.mark.parametrize("mode", BOTH_MODES, ids=str)
def test_mb_packets_count_the_frame_as_returned(
    jumbo_redirect: JumboRedirect, attach_prog: AttachProg, stats: MbStats, mode: XdpMode
) -> None:
    """Native veth only shrinks within frags here: emptying one is the subject of
    test_mb_tail.py's last test."""
    t = jumbo_redirect
    prog = attach_prog(t.receiver, mode)
    stats.enable(t.receiver)
    want = expected_counters()
    shrinks = SHRINKS_GENERIC if mode is XdpMode.GENERIC else SHRINKS_NATIVE
    for seq, (size, delta) in enumerate(shrinks):
        prog.configure(Config(verdict=XDP_DROP, op=OP_TAIL, arg=delta))
        send_frames(t.sender, [build_frame(t.sender.mac, t.receiver.mac, size, 0, seq)])
        prog.wait_frames(seq + 1)
        shape = veth_shape(size)
        after_frags = shape.frags_len + delta > 0
        want["drop-packets"] += 1
        want["drop-bytes"] += size + delta
        want["drop-mb-packets"] += int(after_frags)
        assert prog.rec(0).ret == 0, f"{mode}: shrink {delta} of {size} returned {prog.rec(0).ret}"
        check(stats, prog, t, want, f"{mode}, after shrinking {size} by {-delta}")
