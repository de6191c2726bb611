"""xdp-stats requests from a child process with less privilege (xdplib.caps).

Parent side: ``run(privilege, ops)`` in the calling thread's network
namespace. ``privilege`` is one of

- ``Privilege.root()``: as the test process (the control);
- ``Privilege.without(cap)``: root lacking one capability;
- ``Privilege.nobody()``: uid/gid 65534, no capability;
- ``Privilege.userns()``: nobody, then ``unshare -Urn``: root of its own user
  namespace, which owns a new network namespace.

Each op names a socket: "outer" is opened first, as root, in the namespace
the child started in; "inner" after privileges were dropped (and, for
``userns``, inside the new namespace). Ops: ``get``, ``dump``, ``set``
(ifindex, enabled), ``veth`` (create a pair, up: names -> ifindexes), and
``whoami`` (uid, CapEff), and ``churn`` (below). An ifindex may be given as an interface name,
resolved in the child's current namespace. Each op gives ``{"ok": value}``
or ``{"errno": n, "error": text}`` (errno None for an OSError without one).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute, NetlinkError

from . import caps
from .xdp_stats import XdpStatsGenl

MODULE = "xdplib.xdp_stats_child"


@dataclass(frozen=True)
class Privilege:
    user: int | None = None  # become this uid (and gid)
    drop_caps: tuple[int, ...] = ()
    userns: bool = False

    @classmethod
    def root(cls) -> Privilege:
        return cls()

    @classmethod
    def without(cls, cap: int) -> Privilege:
        return cls(drop_caps=(cap,))

    @classmethod
    def nobody(cls) -> Privilege:
        return cls(user=caps.NOBODY)

    @classmethod
    def userns_of_nobody(cls) -> Privilege:
        return cls(user=caps.NOBODY, userns=True)


@dataclass(frozen=True)
class Op:
    op: str
    sock: str = "inner"
    ifindex: int | str | None = None
    enabled: int | None = None
    names: tuple[str, str] | None = None
    cycles: int | None = None
    ignore: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Outcome:
    ok: Any = None
    errno: int | None = None
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)


def run(privilege: Privilege, ops: list[Op], netns: str | None = None) -> list[Outcome]:
    """The ops, in order, in a child with ``privilege``, started in the calling thread's
    network namespace or in the named one (/run/netns/<netns>)."""
    payload = {
        "privilege": {
            "user": privilege.user,
            "drop_caps": list(privilege.drop_caps),
            "userns": privilege.userns,
        },
        "ops": [{k: v for k, v in vars(op).items() if v is not None} for op in ops],
    }
    out = caps.run_module(MODULE, payload, netns)
    return [Outcome(r.get("ok"), r.get("errno"), r.get("error", "")) for r in out]


# --- the child ---------------------------------------------------------------


def _resolve(value: int | str) -> int:
    return value if isinstance(value, int) else socket.if_nametoindex(value)


def _add_veth(ipr: IPRoute, a: str, b: str) -> dict[str, int]:
    ipr.link("add", ifname=a, kind="veth", peer=b)
    for name in (a, b):
        ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
    return {a: socket.if_nametoindex(a), b: socket.if_nametoindex(b)}


def _churn(cycles: int, ignore: set[int]) -> dict[str, Any]:
    """Devices and namespaces that count come and go: each cycle adds a veth pair,
    enables counting on both ends, dumps (which must report exactly the counting devices
    this child made in its namespace, each once, besides those of ``ignore`` in the
    namespace it started in), then deletes the pair, or keeps it; every fourth cycle
    moves to a new network namespace, and the old one, with the pairs kept there still
    counting, is destroyed."""
    anomalies: list[str] = []
    kept: set[int] = set()
    for i in range(cycles):
        with IPRoute() as ipr, XdpStatsGenl() as sock:
            pair = _add_veth(ipr, f"xsc{i}a", f"xsc{i}b")
            for ifindex in pair.values():
                sock.set(ifindex, 1)
            dumped = sorted(set(sock.dump()) - ignore)
            want = sorted(kept | set(pair.values()))
            if dumped != want:
                anomalies.append(f"cycle {i}: dump {dumped}, counting {want}")
            if i % 2:
                kept |= set(pair.values())
            else:
                ipr.link("del", index=pair[f"xsc{i}a"])
        if i % 4 == 3:
            caps.enter_net_namespace()
            kept.clear()
            ignore = set()
    return {"cycles": cycles, "anomalies": anomalies}


def _do(op: dict[str, Any], socks: dict[str, XdpStatsGenl]) -> Any:
    kind = op["op"]
    if kind == "whoami":
        return {"uid": os.getuid(), "cap_eff": caps.effective_caps()}
    if kind == "veth":
        with IPRoute() as ipr:
            return _add_veth(ipr, *op["names"])
    if kind == "churn":
        return _churn(op["cycles"], set(op.get("ignore", ())))
    sock = socks[op.get("sock", "inner")]
    if kind == "get":
        return sock.get(_resolve(op["ifindex"])).as_dict()
    if kind == "dump":
        return {str(i): c.as_dict() for i, c in sock.dump().items()}
    if kind == "set":
        sock.set(_resolve(op["ifindex"]), op["enabled"])
        return None
    raise ValueError(f"unknown op {kind!r}")


def main(argv: list[str]) -> None:
    payload = json.loads(argv[1])
    priv, ops = payload["privilege"], payload["ops"]
    socks: dict[str, XdpStatsGenl] = {}
    if any(op.get("sock") == "outer" for op in ops):
        socks["outer"] = XdpStatsGenl()
    for cap in priv["drop_caps"]:
        caps.drop_capability(cap)
    if priv["user"] is not None:
        caps.become_user(priv["user"])
    if priv["userns"]:
        caps.enter_user_and_net_namespace()
    if any(op.get("sock", "inner") == "inner" and op["op"] != "churn" for op in ops):
        socks["inner"] = XdpStatsGenl()
    results = []
    for op in ops:
        try:
            results.append({"ok": _do(op, socks)})
        except NetlinkError as e:
            results.append({"errno": e.code, "error": f"{type(e).__name__}: {e}"})
        except OSError as e:
            results.append({"errno": e.errno, "error": f"{type(e).__name__}: {e}"})
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv)
