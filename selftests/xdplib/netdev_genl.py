"""Client for the "netdev" generic-netlink family (NETDEV_CMD_DEV_GET).

Attribute and flag values come from include/uapi/linux/netdev.h (6.12). The
socket resolves the family in, and queries devices of, the network namespace
it was opened in.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST, genlmsg
from pyroute2.netlink.generic import AsyncGenericNetlinkSocket, GenericNetlinkSocket

NETDEV_FAMILY_NAME = "netdev"
NETDEV_FAMILY_VERSION = 1
NETDEV_CMD_DEV_GET = 1

# enum netdev_xdp_act
XDP_ACT_NAMES: dict[int, str] = {
    1 << 0: "basic",
    1 << 1: "redirect",
    1 << 2: "ndo-xmit",
    1 << 3: "xsk-zerocopy",
    1 << 4: "hw-offload",
    1 << 5: "rx-sg",
    1 << 6: "ndo-xmit-sg",
}
# enum netdev_xdp_rx_metadata
XDP_RX_METADATA_NAMES: dict[int, str] = {
    1 << 0: "timestamp",
    1 << 1: "hash",
    1 << 2: "vlan-tag",
}
# enum netdev_xsk_flags
XSK_FLAG_NAMES: dict[int, str] = {
    1 << 0: "tx-timestamp",
    1 << 1: "tx-checksum",
}


def decode_flags(value: int, names: dict[int, str]) -> frozenset[str]:
    """Flag names set in ``value``; unknown bits become ``bit<N>``."""
    out = set()
    for bit in range(64):
        if value & (1 << bit):
            out.add(names.get(1 << bit, f"bit{bit}"))
    return frozenset(out)


class netdevmsg(genlmsg):  # type: ignore[misc]
    prefix = "NETDEV_A_DEV_"
    nla_map = (
        ("NETDEV_A_DEV_UNSPEC", "none"),
        ("NETDEV_A_DEV_IFINDEX", "uint32"),
        ("NETDEV_A_DEV_PAD", "none"),
        ("NETDEV_A_DEV_XDP_FEATURES", "uint64"),
        ("NETDEV_A_DEV_XDP_ZC_MAX_SEGS", "uint32"),
        ("NETDEV_A_DEV_XDP_RX_METADATA_FEATURES", "uint64"),
        ("NETDEV_A_DEV_XSK_FEATURES", "uint64"),
    )


@dataclass(frozen=True)
class NetdevInfo:
    """One NETDEV_CMD_DEV_GET reply, with flags decoded to their names."""

    ifindex: int
    xdp_features_raw: int
    xdp_zc_max_segs: int | None
    xdp_rx_metadata_raw: int
    xsk_features_raw: int

    @property
    def xdp_features(self) -> frozenset[str]:
        return decode_flags(self.xdp_features_raw, XDP_ACT_NAMES)

    @property
    def xdp_rx_metadata(self) -> frozenset[str]:
        return decode_flags(self.xdp_rx_metadata_raw, XDP_RX_METADATA_NAMES)

    @property
    def xsk_features(self) -> frozenset[str]:
        return decode_flags(self.xsk_features_raw, XSK_FLAG_NAMES)


class AsyncNetdevGenl(AsyncGenericNetlinkSocket):  # type: ignore[misc]
    async def setup_endpoint(self) -> None:
        if getattr(self.local, "transport", None) is not None:
            return
        await super().setup_endpoint()
        await self.bind(NETDEV_FAMILY_NAME, netdevmsg)

    async def dev_get(self, ifindex: int) -> list[netdevmsg]:
        msg = netdevmsg()
        msg["cmd"] = NETDEV_CMD_DEV_GET
        msg["version"] = NETDEV_FAMILY_VERSION
        msg["attrs"].append(("NETDEV_A_DEV_IFINDEX", ifindex))
        return [
            reply
            async for reply in await self.nlm_request(
                msg, msg_type=self.prid, msg_flags=NLM_F_REQUEST | NLM_F_ACK
            )
        ]


class NetdevGenl(GenericNetlinkSocket):  # type: ignore[misc]
    """Synchronous netdev-family socket: ``NetdevGenl().dev_get(ifindex)``."""

    async_class = AsyncNetdevGenl

    def __init__(self) -> None:
        super().__init__(ext_ack=True)

    def dev_get(self, ifindex: int) -> NetdevInfo:
        replies = self._run_with_cleanup(self.asyncore.dev_get, ifindex)
        devs = [r for r in replies if r.get_attr("NETDEV_A_DEV_IFINDEX") is not None]
        if len(devs) != 1:
            raise RuntimeError(f"NETDEV_CMD_DEV_GET({ifindex}) returned {len(devs)} devices")
        dev = devs[0]
        zc = dev.get_attr("NETDEV_A_DEV_XDP_ZC_MAX_SEGS")
        return NetdevInfo(
            ifindex=int(dev.get_attr("NETDEV_A_DEV_IFINDEX")),
            xdp_features_raw=int(dev.get_attr("NETDEV_A_DEV_XDP_FEATURES") or 0),
            xdp_zc_max_segs=int(zc) if zc is not None else None,
            xdp_rx_metadata_raw=int(dev.get_attr("NETDEV_A_DEV_XDP_RX_METADATA_FEATURES") or 0),
            xsk_features_raw=int(dev.get_attr("NETDEV_A_DEV_XSK_FEATURES") or 0),
        )
