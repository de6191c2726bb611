"""The per-device XDP statistics with the multi-buffer series' counters, as one dict.

xdplib.xdp_stats reads the xdp-stats series' counters (xdp-stats-get) and,
with mb_packets(), the six this series adds after xmit-drops, attributes 17
to 22: {aborted,drop,pass,tx,redirect,invalid}-mb-packets
(Documentation/netlink/specs/netdev.yaml of the tree). Tests compare all
twenty at once, by spec name; a kernel without the series fails the reading.
"""

from __future__ import annotations

from xdplib.netns import Port
from xdplib.xdp_stats import ACTIONS, COUNTER_ATTRS, MB_COUNTER_ATTRS, XdpStatsReader

COUNTERS = tuple(
    spec
    for _, (_, spec) in sorted({**COUNTER_ATTRS, **MB_COUNTER_ATTRS}.items(), key=lambda i: i[1])
)


class MbStats:
    """xdp-stats-set/-get for ports of any namespace (xdplib's XdpStatsReader); counting
    it enabled stops at ``close()``."""

    def __init__(self) -> None:
        self.reader = XdpStatsReader()

    def enable(self, *ports: Port) -> None:
        self.reader.enable(*ports)

    def get(self, port: Port) -> dict[str, int]:
        """Every counter of the port, by spec name (``pass-mb-packets``)."""
        base = self.reader.counters(port).as_dict()
        out = {spec: base[field] for field, (_, spec) in COUNTER_ATTRS.items()}
        out.update(self.reader.mb_packets(port))
        return out

    def close(self) -> None:
        self.reader.close()


def expected_counters(**buckets: tuple[int, int, int]) -> dict[str, int]:
    """``expected_counters(pass_=(packets, bytes, mb_packets), ...)``; every other
    counter 0. ``redirect_errors=(n, 0, 0)`` sets redirect-errors."""
    out = dict.fromkeys(COUNTERS, 0)
    for key, (packets, nbytes, mb) in buckets.items():
        action = key.rstrip("_")
        if action == "redirect_errors":
            out["redirect-errors"] = packets
            continue
        assert action in ACTIONS, key
        out[f"{action}-packets"] = packets
        out[f"{action}-bytes"] = nbytes
        out[f"{action}-mb-packets"] = mb
    return out


def counters_diff(got: dict[str, int], want: dict[str, int]) -> str:
    return ", ".join(f"{k}: got {got[k]} expected {want[k]}" for k in want if got[k] != want[k])
