"""Session setup and shared fixtures for the XDP selftest suites.

The suites run as root inside a throwaway guest. The session fixture makes
sure the kernel filesystems the tests use are mounted: bpffs, debugfs
(netdevsim knobs) and tracefs (tracepoints).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SELFTESTS_DIR = Path(__file__).resolve().parent
if str(SELFTESTS_DIR) not in sys.path:
    sys.path.insert(0, str(SELFTESTS_DIR))

from xdplib import bpfobj, netns  # noqa: E402
from xdplib.netdev_genl import NetdevGenl, NetdevInfo  # noqa: E402
from xdplib.netns import Port, inside  # noqa: E402
from xdplib.tracefs import TraceInstance  # noqa: E402

KERNEL_FILESYSTEMS = (
    # (fstype, mount point)
    ("bpf", "/sys/fs/bpf"),
    ("debugfs", "/sys/kernel/debug"),
    ("tracefs", "/sys/kernel/tracing"),
)


def _mount_points() -> dict[str, str]:
    """Mount point -> filesystem type, from /proc/self/mounts."""
    out = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                out[fields[1]] = fields[2]
    return out


def _mount(fstype: str, target: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    os.makedirs(target, exist_ok=True)
    if libc.mount(fstype.encode(), target.encode(), fstype.encode(), 0, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount -t {fstype} {fstype} {target}: {os.strerror(err)}")


@pytest.fixture(scope="session", autouse=True)
def kernel_filesystems() -> dict[str, str]:
    """Root check, then mount bpffs, debugfs and tracefs where missing."""
    if os.geteuid() != 0:
        pytest.fail(
            "the XDP selftests need root (CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN): "
            f"running as uid {os.geteuid()}",
            pytrace=False,
        )
    mounted = _mount_points()
    for fstype, target in KERNEL_FILESYSTEMS:
        if mounted.get(target) == fstype:
            continue
        try:
            _mount(fstype, target)
        except OSError as e:
            pytest.fail(f"cannot provide {fstype} at {target}: {e}", pytrace=False)
    return _mount_points()


@pytest.fixture
def suite(request: pytest.FixtureRequest) -> str:
    """The suite a test belongs to: the name of its directory under selftests/."""
    return request.path.parent.name


@pytest.fixture
def load_bpf(suite: str) -> Iterator[Callable[..., bpfobj.BpfObject]]:
    """``load_bpf("xdp_drop")`` loads <suite>/progs/xdp_drop.bpf.c's object.

    The keyword arguments are bpfobj.load()'s. Objects are closed at teardown.
    """
    objs: list[bpfobj.BpfObject] = []

    def _load(
        stem: str,
        prog_ifindex: dict[str, int] | None = None,
        prog_flags: dict[str, int] | None = None,
        log_size: int = 0,
        freplace_target: int | None = None,
        attach_types: dict[str, int] | None = None,
    ) -> bpfobj.BpfObject:
        obj = bpfobj.load(
            suite, stem, prog_ifindex, prog_flags, log_size, freplace_target, attach_types
        )
        objs.append(obj)
        return obj

    yield _load
    for obj in reversed(objs):
        obj.close()


@pytest.fixture
def make_netns() -> Iterator[Callable[[], netns.NetNS]]:
    """``make_netns()`` returns a fresh namespace, removed at teardown."""
    created: list[netns.NetNS] = []

    def _make() -> netns.NetNS:
        ns = netns.new_netns()
        created.append(ns)
        return ns

    yield _make
    for ns in reversed(created):
        ns.remove()


@pytest.fixture
def xdp_exception_trace(kernel_filesystems: dict[str, str]) -> Iterator[TraceInstance]:
    """A private tracefs instance recording xdp:xdp_exception."""
    with TraceInstance("xdp-selftest", ["xdp/xdp_exception"]) as inst:
        yield inst


@pytest.fixture
def netdev_info() -> Iterator[Callable[[Port], NetdevInfo]]:
    """``netdev_info(port)``: NETDEV_CMD_DEV_GET for the port, asked in its namespace."""
    socks: dict[str, NetdevGenl] = {}

    def _get(port: Port) -> NetdevInfo:
        sock = socks.get(port.ns.path)
        if sock is None:
            with inside(port.ns):
                sock = NetdevGenl()
            socks[port.ns.path] = sock
        return sock.dev_get(port.ifindex)

    yield _get
    for sock in socks.values():
        sock.close()
