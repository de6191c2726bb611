"""Small named topologies the tests build from namespaces and veth pairs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .netns import NetNS, Port, create_veth


@dataclass(frozen=True)
class VethPair:
    """``sender`` in one namespace, its veth peer ``receiver`` in another."""

    sender: Port
    receiver: Port


@dataclass(frozen=True)
class RedirectTopology:
    """sender --veth-- receiver  |  target --veth-- target_peer

    ``receiver`` and ``target`` share a namespace; a program on ``receiver``
    redirects into ``target``, whose frames come out at ``target_peer``.
    """

    sender: Port
    receiver: Port
    target: Port
    target_peer: Port


def veth_pair(make_netns: Callable[[], NetNS]) -> VethPair:
    ns_tx, ns_rx = make_netns(), make_netns()
    sender, receiver = create_veth(ns_tx, "veth0", ns_rx, "veth1")
    return VethPair(sender, receiver)


def redirect_topology(make_netns: Callable[[], NetNS]) -> RedirectTopology:
    ns_tx, ns_mid, ns_out = make_netns(), make_netns(), make_netns()
    sender, receiver = create_veth(ns_tx, "veth0", ns_mid, "veth1")
    target, target_peer = create_veth(ns_mid, "veth2", ns_out, "veth3")
    return RedirectTopology(sender, receiver, target, target_peer)
