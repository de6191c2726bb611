"""Fixtures of the multi-buffer suite: jumbo veth topologies, the mb_inspect program,
the XDP statistics with their multi-buffer counters, tracing, the kernel log.

Every test of the suite also checks that the kernel logged no splat (BUG,
Oops, WARNING, KASAN, UBSAN, a page_pool stall...) while it ran: the
``kernel_log`` fixture is autouse, and fails the test at teardown.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from mbcommon import (
    JUMBO_MTU,
    AttachProg,
    Jumbo,
    JumboRedirect,
    KernelLog,
    LoadProg,
    MbProg,
    TraceFn,
    jumbo_veth,
)
from mbstats import MbStats
from xdplib import bpfobj, xdp_attach
from xdplib.netns import NetNS, Port, move_link
from xdplib.nics import interfaces_with_driver
from xdplib.tracefs import TraceInstance
from xdplib.xdp_attach import BOTH_MODES, XdpMode


@pytest.fixture
def jumbo(make_netns: Callable[[], NetNS]) -> Jumbo:
    a, b = jumbo_veth(make_netns(), "veth0", make_netns(), "veth1")
    return Jumbo(a, b)


@pytest.fixture
def jumbo_redirect(make_netns: Callable[[], NetNS]) -> JumboRedirect:
    ns_tx, ns_mid, ns_out = make_netns(), make_netns(), make_netns()
    sender, receiver = jumbo_veth(ns_tx, "veth0", ns_mid, "veth1")
    target, target_peer = jumbo_veth(ns_mid, "veth2", ns_out, "veth3")
    return JumboRedirect(sender, receiver, target, target_peer)


@pytest.fixture
def mb_prog(load_bpf: Callable[..., bpfobj.BpfObject]) -> LoadProg:
    """``mb_prog(frags=True)``: a fresh mb_inspect object (BPF_F_XDP_HAS_FRAGS), or
    mb_inspect_sb with ``frags=False``."""

    def _load(frags: bool = True) -> MbProg:
        stem = "mb_inspect" if frags else "mb_inspect_sb"
        return MbProg(load_bpf(stem), stem)

    return _load


@pytest.fixture
def attach_prog(mb_prog: LoadProg) -> AttachProg:
    """``attach_prog(port, mode, frags=True)``: load mb_inspect, attach it, verify;
    the attachment goes with the namespace."""

    def _attach(port: Port, mode: XdpMode, frags: bool = True) -> MbProg:
        prog = mb_prog(frags)
        xdp_attach.attach_verified(port.ns.ipr, port.ifindex, prog.fd, mode, what=str(port))
        return prog

    return _attach


@pytest.fixture
def stats() -> Iterator[MbStats]:
    reader = MbStats()
    yield reader
    reader.close()


@pytest.fixture
def trace(kernel_filesystems: dict[str, str]) -> Iterator[TraceFn]:
    """``trace("xdp/xdp_redirect_err")``: a private tracefs instance, gone at teardown."""
    with ExitStack() as stack:
        count = 0

        def _trace(*events: str) -> TraceInstance:
            nonlocal count
            count += 1
            return stack.enter_context(TraceInstance(f"mb-{count}", list(events)))

        yield _trace


@pytest.fixture(autouse=True)
def kernel_log() -> Iterator[KernelLog]:
    """The kernel's log while the test runs: a splat fails the test."""
    log = KernelLog()
    yield log
    try:
        splats = log.splats()
    finally:
        log.close()
    assert not splats, "the kernel logged while the test ran:\n" + "\n".join(splats[:20])


# Run last: the memory tests (100k frames and test runs each), and after them native
# veth's release of whole frags, which takes the kernel down if the release is wrong
# there: every other test of the suite has reported by then.
_MEMORY = "test_mb_memory.py"
_NATIVE_RELEASE = "test_mb_tail.py::test_shrink_releases_frags[native]"


def _order(item: pytest.Item) -> int:
    if item.nodeid.endswith(_NATIVE_RELEASE):
        return 2
    return 1 if item.path.name == _MEMORY else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_order)


@pytest.fixture
def virtio_jumbo(make_netns: Callable[[], NetNS]) -> Iterator[Jumbo]:
    """The guest's two looped virtio_net NICs (virtme-ng --network loop: one QEMU hub),
    each moved into a namespace of its own, at MTU 9000; back, down, without XDP and at
    their MTU afterwards."""
    host = NetNS.original()
    try:
        names = [n for n in interfaces_with_driver("virtio_net") if not _has_ipv4(host, n)]
        if len(names) != 2:
            pytest.fail(
                "expected the two unconfigured virtio_net NICs of virtme-ng --network loop, "
                f"found {names}",
                pytrace=False,
            )
        moved: list[tuple[NetNS, str, int]] = []
        try:
            for name in names:
                ns = make_netns()
                mtu = int(host.link(name).get_attr("IFLA_MTU"))
                move_link(host.ipr, host.ifindex(name), ns.path)
                moved.append((ns, name, mtu))
                ns.ipr.link("set", index=ns.ifindex(name), mtu=JUMBO_MTU)
                ns.set_up(name)
            (ns_a, a, _), (ns_b, b, _) = moved
            yield Jumbo(Port.lookup(ns_a, a), Port.lookup(ns_b, b))
        finally:
            for ns, name, mtu in moved:
                idx = ns.ifindex(name)
                for mode in BOTH_MODES:
                    xdp_attach.detach(ns.ipr, idx, mode)
                ns.ipr.link("set", index=idx, state="down", mtu=mtu)
                move_link(ns.ipr, idx, host.path)
    finally:
        host.remove()


def _has_ipv4(ns: NetNS, ifname: str) -> bool:
    return bool(ns.ipr.addr("dump", index=ns.ifindex(ifname), family=socket.AF_INET))
