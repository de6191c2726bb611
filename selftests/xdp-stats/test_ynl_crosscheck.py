"""The kernel's own ynl CLI, driven by the patched tree's netdev.yaml, reads the same
counters as the pyroute2 client: for a do, for a dump, and for a device
without counters (ifindex only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdplib.netns import NetNS, Port, create_veth
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import XdpStats, XdpStatsReader, XdpStatsSysctl, decode_ynl
from xscommon import SELECTOR, VerdictProg, interleave, make_batch, wait_for_counters

N = 8
AttachFn = Callable[[Port, int, XdpMode], int]


def test_ynl_cli_agrees_with_pyroute2(
    sysctl: XdpStatsSysctl,
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    ynl: Callable[..., Any],
) -> None:
    sysctl.write(1)
    ns = make_netns()
    s, r = create_veth(ns, "xs0", ns, "xs1")
    prog = verdict_prog()
    attach(r, prog.fd, XdpMode.NATIVE)
    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    batches = [
        make_batch(flow, SELECTOR[a], N, pad=i) for i, a in enumerate(("drop", "pass", "aborted"))
    ]
    exchange_split(s, flow, interleave(batches), {r: batches[1].markers})
    want = prog.tally().as_counted()
    assert wait_for_counters(lambda: stats.counters(r), want) == want

    do_py = stats.get(r)
    do_ynl = ynl(ns, "--do", "xdp-stats-get", json_arg={"ifindex": r.ifindex})
    assert decode_ynl(do_ynl) == do_py, f"do: ynl says {do_ynl}, pyroute2 says {do_py}"

    dump_py = stats.dump(ns)
    dump_ynl = ynl(ns, "--dump", "xdp-stats-get")
    decoded: dict[int, XdpStats] = {}
    for reply in dump_ynl:
        st = decode_ynl(reply)
        decoded[st.ifindex] = st
    assert decoded == dump_py, f"dump: ynl says {dump_ynl}, pyroute2 says {dump_py}"

    # A device registered while counting is off: the ifindex, nothing else.
    sysctl.write(0)
    bare, _ = create_veth(ns, "xs2", ns, "xs3")
    reply = ynl(ns, "--do", "xdp-stats-get", json_arg={"ifindex": bare.ifindex})
    assert reply == {"ifindex": bare.ifindex}, f"ynl for {bare} without counters: {reply}"
    assert stats.get(bare) == XdpStats(bare.ifindex, None)
