"""The kernel's own ynl CLI, driven by the patched tree's netdev.yaml, agrees with the
pyroute2 client: it switches counting on (xdp-stats-set), reads the same counters (do,
dump, dump filtered by ifindex), and gets ENODATA for a device that does not count.
Each ynl run costs seconds in an emulated guest: five of them.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from xdplib.netns import NetNS, Port, create_veth
from xdplib.traffic import Flow, exchange_split
from xdplib.xdp_attach import XdpMode
from xdplib.xdp_stats import NOT_ENABLED, ZERO, XdpStatsReader, decode_ynl
from xscommon import (
    SELECTOR,
    AttachFn,
    VerdictProg,
    YnlResult,
    expect_counters,
    interleave,
    make_batch,
)

N = 8
YnlFn = Callable[..., YnlResult]


def test_ynl_cli_agrees_with_pyroute2(
    make_netns: Callable[[], NetNS],
    verdict_prog: Callable[[], VerdictProg],
    attach: AttachFn,
    stats: XdpStatsReader,
    ynl: YnlFn,
) -> None:
    ns = make_netns()
    s, r = create_veth(ns, "xs0", ns, "xs1")
    lo = Port.lookup(ns, "lo")
    prog = verdict_prog()
    attach(r, prog.fd, XdpMode.NATIVE)

    ynl(ns, "--do", "xdp-stats-set", json_arg={"ifindex": r.ifindex, "enabled": 1}).json()
    assert stats.dump(ns) == {r.ifindex: ZERO}, "enabled by ynl's xdp-stats-set"
    stats.enable(lo)

    flow = Flow(src_mac=s.mac, dst_mac=r.mac)
    batches = [
        make_batch(flow, SELECTOR[a], N, pad=i)
        for i, a in enumerate(("drop", "pass", "aborted", "tx", "invalid"))
    ]
    exchange_split(s, flow, interleave(batches), {r: batches[1].markers})
    want = expect_counters(lambda: stats.counters(r), prog.tally().as_counted(), f"{r}")

    do = ynl(ns, "--do", "xdp-stats-get", json_arg={"ifindex": r.ifindex}).json()
    assert decode_ynl(do) == (r.ifindex, want), f"do: ynl says {do}, pyroute2 {want}"

    dump = ynl(ns, "--dump", "xdp-stats-get").json()
    assert dict(decode_ynl(d) for d in dump) == stats.dump(ns), (
        f"dump: ynl says {dump}, pyroute2 {stats.dump(ns)}"
    )
    filtered = ynl(ns, "--dump", "xdp-stats-get", json_arg={"ifindex": r.ifindex}).json()
    assert [decode_ynl(d) for d in filtered] == [(r.ifindex, want)], f"filtered: {filtered}"

    stats.disable(r)
    refused = ynl(ns, "--do", "xdp-stats-get", json_arg={"ifindex": r.ifindex})
    assert refused.returncode == 1 and os.strerror(errno.ENODATA) in refused.stdout, (
        f"ynl do for a device that does not count: exit {refused.returncode}, {refused.stdout}"
    )
    assert NOT_ENABLED in refused.stdout, f"ynl should print the extack: {refused.stdout}"
