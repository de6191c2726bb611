"""What the feature-flags series adds, as the tests of its suite see it.

Sources (the v2 series on 6.12): include/uapi/linux/if_link.h
(XDP_FLAGS_ENFORCE_FEATURES), include/uapi/linux/bpf.h (struct
bpf_prog_info.xdp_features, BPF_F_XDP_ENFORCE_FEATURES), kernel/bpf/
syscall.c (fdinfo "xdp_features:", "xdp_features_allowed:",
"owner_xdp_features_allowed:"), net/core/dev.c dev_xdp_enforce_begin() and
dev_xdp_attach() (the extacks), kernel/bpf/xdp_features.c (what an enforced attach reaches, and
the locks), drivers/net/netdevsim/bpf.c (debugfs ports/<n>/xdp_features).
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from pyroute2 import NetlinkError
from xdplib import xdp_attach
from xdplib.bpflink import FreplaceLink, XdpLink
from xdplib.bpfobj import BpfError, BpfObject, libbpf, prog_id
from xdplib.closing import Closing
from xdplib.fdinfo import fdinfo_values
from xdplib.netdev_genl import XDP_ACT_NAMES, NetdevGenl, NetdevInfo
from xdplib.netdevsim import NetdevsimDevice
from xdplib.netns import Port
from xdplib.refusals import errname
from xdplib.refusals import xdp_refused as refused
from xdplib.tracefs import TraceInstance
from xdplib.xdp_attach import XdpMode

# include/uapi/linux/if_link.h, new with the series.
XDP_FLAGS_ENFORCE_FEATURES = 1 << 5

# enum netdev_xdp_act (include/uapi/linux/netdev.h)
BASIC = 1 << 0
REDIRECT = 1 << 1
NDO_XMIT = 1 << 2
XSK_ZEROCOPY = 1 << 3
HW_OFFLOAD = 1 << 4
RX_SG = 1 << 5
NDO_XMIT_SG = 1 << 6
ALL_FEATURES = 0x7F  # NETDEV_XDP_ACT_MASK
SINGLE_FEATURES = (BASIC, REDIRECT, NDO_XMIT, XSK_ZEROCOPY, HW_OFFLOAD, RX_SG, NDO_XMIT_SG)

# netdevsim's nsim_create() sets only hw-offload; the series keeps that default.
NSIM_DEFAULT_FEATURES = HW_OFFLOAD

# net/core/dev.c dev_xdp_enforce_begin(): the program's own features, and
# what it reaches (tail call targets, extensions; kernel/bpf/xdp_features.c).
LACKS_PREFIX = "XDP program needs features the device lacks: "
REACH_PREFIX = "XDP tail calls or extensions need features the device lacks: "
# dev_xdp_attach(): the flag with XDP_FLAGS_SKB_MODE or XDP_FLAGS_HW_MODE (EINVAL)
NATIVE_ONLY = "XDP feature enforcement is for native mode only"

# include/uapi/linux/bpf.h, BPF_PROG_LOAD flags
BPF_F_XDP_DEV_BOUND_ONLY = 1 << 6
BPF_F_XDP_ENFORCE_FEATURES = 1 << 8  # new with the series

# progs/xdp_dispatcher.bpf.c's global functions, which the extensions replace
FREPLACE_FUNCTION = "ff_stage"
FREPLACE_FUNCTION2 = "ff_stage2"

# The fixtures' factories (conftest.py): nsim_link(prog_fd, flags), and
# attach_extension(obj, prog, target_fd[, function]) below.
NsimLinkFn = Callable[[int, int], XdpLink]


class FreplaceFn(Protocol):
    def __call__(
        self, obj: BpfObject, prog: str, target_fd: int, function: str = FREPLACE_FUNCTION
    ) -> FreplaceLink: ...


# fdinfo keys (kernel/bpf/syscall.c)
FDINFO_FEATURES = "xdp_features"  # programs: what the program needs
# The locks: what the program, or the programs a prog_array holds, may need at
# most; printed once an enforced attach installed the program, or reached the map.
FDINFO_PROG_LOCK = "xdp_features_allowed"
FDINFO_MAP_LOCK = "owner_xdp_features_allowed"

# enum bpf_func_id (include/uapi/linux/bpf.h)
BPF_FUNC_REDIRECT = 23
BPF_FUNC_REDIRECT_MAP = 51


def feature_names(mask: int) -> list[str]:
    """Netdev names of the bits in ``mask``, lowest bit first."""
    return [XDP_ACT_NAMES.get(1 << bit, f"bit{bit}") for bit in range(32) if mask & (1 << bit)]


def describe(mask: int) -> str:
    """``0x23 (basic|redirect|rx-sg)``, for assertion messages."""
    return f"{mask:#x} ({'|'.join(feature_names(mask)) or 'none'})"


def lacks_message(missing: int) -> str:
    """The extack of a program needing these missing bits itself."""
    return LACKS_PREFIX + ", ".join(feature_names(missing))


def reach_message(missing: int) -> str:
    """The extack of tail calls or extensions needing these missing bits."""
    return REACH_PREFIX + ", ".join(feature_names(missing))


def write_errno(path: Path, text: str) -> int:
    """Write ``text`` in one write(2); 0 on success, else the errno."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    except OSError as e:
        return e.errno or errno.EIO
    finally:
        os.close(fd)
    return 0


def fdinfo_lock(fd: int, key: str) -> int | None:
    """The mask of the fd's one ``key:`` fdinfo line (FDINFO_PROG_LOCK or
    FDINFO_MAP_LOCK); None when the kernel printed none."""
    values = fdinfo_values(fd, key)
    assert len(values) <= 1, f"fd {fd}: fdinfo has {len(values)} {key!r} lines: {values}"
    return int(values[0], 0) if values else None


def lock_text(lock: int | None) -> str:
    return "no lock" if lock is None else f"locked to {describe(lock)}"


def assert_lock(fd: int, key: str, expected: int | None, what: str) -> None:
    """The fd's fdinfo shows ``key`` with exactly ``expected`` (None: no such line)."""
    got = fdinfo_lock(fd, key)
    assert got == expected, (
        f"{what}: fdinfo {key!r} should show {lock_text(expected)}, shows {lock_text(got)}"
    )


@dataclass(frozen=True)
class ProgInfoLayout:
    """struct bpf_prog_info as the tree's UAPI header lays it out."""

    size: int
    xdp_features_offset: int
    attach_btf_id_offset: int


def prog_info_layout(obj: BpfObject) -> ProgInfoLayout:
    """Read the layout from the loaded prog_info_layout.bpf.c's .rodata."""
    raw = obj.map_lookup(".rodata", struct.pack("I", 0), 12)
    return ProgInfoLayout(*struct.unpack("III", raw))


def prog_info(prog_fd: int, buf_len: int = 1024, poke: dict[int, int] | None = None) -> bytes:
    """bpf_obj_get_info_by_fd() into a zeroed buffer of ``buf_len`` bytes.

    ``poke`` puts nonzero bytes in first: {offset: byte value}. The kernel
    copies min(buf_len, sizeof(its struct bpf_prog_info)) bytes and reports
    that length; the bytes it filled are returned.
    """
    buf = (ctypes.c_uint8 * buf_len)()
    for offset, value in (poke or {}).items():
        buf[offset] = value
    length = ctypes.c_uint32(buf_len)
    ret = libbpf().bpf_obj_get_info_by_fd(prog_fd, buf, ctypes.byref(length))
    if ret != 0:
        raise BpfError(ret, f"bpf_obj_get_info_by_fd(fd {prog_fd})")
    return bytes(buf)[: length.value]


def elf_section(path: Path, name: str) -> bytes:
    """Contents of section ``name`` of a little-endian ELF64 file (a BPF object)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not a little-endian ELF64 file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(index: int) -> tuple[int, ...]:
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, ...
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + index * shentsize)

    names_at = header(shstrndx)[4]
    for index in range(shnum):
        sh = header(index)
        start = names_at + sh[0]
        if data[start : data.index(b"\0", start)].decode() == name:
            return data[sh[4] : sh[4] + sh[5]]
    raise LookupError(f"no section {name!r} in {path}")


def helper_calls(code: bytes) -> list[int]:
    """Helper ids of the BPF_CALL instructions (to helpers, src_reg 0) in ``code``."""
    calls = []
    for pos in range(0, len(code) - 7, 8):
        opcode, regs = code[pos], code[pos + 1]
        if opcode == 0x85 and regs >> 4 == 0:  # BPF_JMP | BPF_CALL, helper
            calls.append(struct.unpack_from("<i", code, pos + 4)[0])
    return calls


@dataclass(frozen=True)
class Nsim:
    """A one-port netdevsim device in the test process's own namespace."""

    dev: NetdevsimDevice
    port: Port

    @property
    def knob(self) -> Path:
        """debugfs ports/0/xdp_features, added by the series."""
        return self.dev.port_debugfs(0) / "xdp_features"

    def features(self) -> int:
        return int(self.knob.read_text().strip(), 16)

    def advertise(self, mask: int, netdev_info: Callable[[Port], NetdevInfo]) -> None:
        """Write ``mask`` to the knob; check debugfs and netlink both report it."""
        self.knob.write_text(f"{mask:#x}\n")
        assert self.features() == mask, (
            f"{self.knob} reads {self.features():#x} after writing {mask:#x}"
        )
        reported = netdev_info(self.port).xdp_features_raw
        assert reported == mask, (
            f"after writing {describe(mask)} to {self.knob}, the netdev family reports "
            f"xdp-features {describe(reported)} for {self.port}"
        )

    @property
    def native_knob(self) -> Path:
        """debugfs ports/0/bpf_xdpdrv_accept: N makes the driver refuse native programs."""
        return self.dev.port_debugfs(0) / "bpf_xdpdrv_accept"

    def accept_native(self, accept: bool) -> None:
        self.native_knob.write_text("Y\n" if accept else "N\n")
        now = self.native_knob.read_text().strip()
        assert now == ("Y" if accept else "N"), f"{self.native_knob} reads {now!r}"

    def state(self) -> xdp_attach.XdpState:
        return xdp_attach.query(self.port.ns.ipr, self.port.ifindex)


# "netdevsim: " + the driver's message, when bpf_xdpdrv_accept is N
NSIM_NATIVE_REFUSED = "netdevsim: driver XDP disabled in DebugFS"


def link_failure_messages(trace: TraceInstance) -> list[str]:
    """The errmsg of every xdp:bpf_xdp_link_attach_failed event recorded."""
    return [
        e.line.split("errmsg=", 1)[1] if "errmsg=" in e.line else e.line
        for e in trace.events("bpf_xdp_link_attach_failed")
    ]


def attach_accepted(port: Port, prog_fd: int, mode: XdpMode, flags: int = 0, what: str = "") -> int:
    """Attach with extra ``flags``; IFLA_XDP must then report this program in ``mode``.

    Returns the program id.
    """
    label = what or f"prog fd {prog_fd}"
    try:
        xdp_attach.attach(port.ns.ipr, port.ifindex, prog_fd, mode, extra_flags=flags)
    except NetlinkError as e:
        raise AssertionError(
            f"attaching {label} to {port} in {mode} mode with flags {mode.flag | flags:#x} "
            f"should be accepted, got {errname(e.code)}: {e.args[1]!r}"
        ) from e
    expected = prog_id(prog_fd)
    state = xdp_attach.query(port.ns.ipr, port.ifindex)
    assert state.attached == mode.attached and state.prog_id_for(mode) == expected, (
        f"after attaching {label} (id {expected}) to {port} in {mode} mode, IFLA_XDP reports "
        f"{state}"
    )
    return expected


def enforced_request(
    port: Port,
    prog_fd: int,
    mode: XdpMode = XdpMode.NATIVE,
    flags: int = 0,
    expected_fd: int | None = None,
) -> Callable[[], None]:
    """An IFLA_XDP attach with XDP_FLAGS_ENFORCE_FEATURES (and ``flags``), to run later."""
    return lambda: xdp_attach.attach(
        port.ns.ipr,
        port.ifindex,
        prog_fd,
        mode,
        extra_flags=XDP_FLAGS_ENFORCE_FEATURES | flags,
        expected_fd=expected_fd,
    )


def enforced_refused(
    port: Port,
    prog_fd: int,
    code: int,
    extack: str | None,
    mode: XdpMode = XdpMode.NATIVE,
    flags: int = 0,
    expected_fd: int | None = None,
) -> NetlinkError:
    """An enforced attach that must fail with ``code`` and exactly ``extack``, changing nothing."""
    return refused(port, enforced_request(port, prog_fd, mode, flags, expected_fd), code, extack)


def attach_enforced(port: Port, prog_fd: int, what: str, mode: XdpMode = XdpMode.NATIVE) -> int:
    """An enforced attach that must succeed; returns the program id."""
    return attach_accepted(port, prog_fd, mode, XDP_FLAGS_ENFORCE_FEATURES, f"{what}, enforced")


def bpf_refused(call: Callable[[], object], code: int, what: str) -> BpfError:
    """A bpf(2) operation (through libbpf) that must fail with errno ``code``."""
    with pytest.raises(BpfError) as exc:
        call()
    got = exc.value.errno or 0
    assert got == code, f"{what}: expected {errname(code)}, got {errname(got)}: {exc.value}"
    return exc.value


class ProgArrays:
    """A loaded object whose prog_arrays a test fills, by map and program name."""

    def __init__(self, obj: BpfObject) -> None:
        self.obj = obj

    def fd(self, prog: str) -> int:
        return self.obj.prog_fd(prog)

    def map_fd(self, table: str) -> int:
        return self.obj.map_fd(table)

    def insert(self, table: str, slot: int, prog: str) -> None:
        self.obj.map_update(table, struct.pack("I", slot), struct.pack("I", self.fd(prog)))

    def insert_refused(self, table: str, slot: int, prog: str) -> None:
        """The insert must fail with EOPNOTSUPP and leave the slot as it was."""
        before = self.slot(table, slot)
        bpf_refused(
            lambda: self.insert(table, slot, prog),
            errno.EOPNOTSUPP,
            f"inserting {prog} into {table}[{slot}] ({lock_text(self.lock(table))})",
        )
        after = self.slot(table, slot)
        assert after == before, f"refused insert changed {table}[{slot}]: {before} -> {after}"

    def insert_accepted(self, table: str, slot: int, prog: str) -> None:
        """The insert must succeed: the slot then holds the program."""
        try:
            self.insert(table, slot, prog)
        except BpfError as e:
            raise AssertionError(
                f"inserting {prog} into {table}[{slot}] ({lock_text(self.lock(table))}) "
                f"should be accepted, got {errname(e.errno or 0)}"
            ) from e
        got, want = self.slot(table, slot), prog_id(self.fd(prog))
        assert got == want, f"{table}[{slot}] holds prog id {got} after inserting {prog} ({want})"

    def slot(self, table: str, slot: int) -> int | None:
        """Program id in a slot (a prog_array lookup from user space yields the id)."""
        try:
            raw = self.obj.map_lookup(table, struct.pack("I", slot), 4)
        except BpfError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        return int(struct.unpack("I", raw)[0])

    def lock(self, table: str) -> int | None:
        """The map's owner_xdp_features_allowed, None while it is not locked."""
        return fdinfo_lock(self.map_fd(table), FDINFO_MAP_LOCK)

    def assert_locks(self, expected: dict[str, int | None], what: str) -> None:
        """Each named map is locked to exactly its mask (None: not locked)."""
        got = {table: self.lock(table) for table in expected}
        assert got == expected, (
            f"{what}: expected locks "
            f"{ {t: lock_text(v) for t, v in expected.items()} }, fdinfo shows "
            f"{ {t: lock_text(v) for t, v in got.items()} }"
        )


# include/uapi/linux/netdev.h
NETDEV_CMD_DEV_CHANGE_NTF = 4
NETDEV_A_DEV_IFINDEX = 1
NETDEV_A_DEV_XDP_FEATURES = 3
NETLINK_ADD_MEMBERSHIP = 1
SOL_NETLINK = 270


class NetdevNotifications(Closing):
    """Subscriber to the netdev family's "mgmt" group, in the calling thread's namespace.

    ``xdp_feature_changes(ifindex)`` returns the xdp-features carried by the
    NETDEV_CMD_DEV_CHANGE_NTF messages received for that device.
    """

    def __init__(self) -> None:
        genl = NetdevGenl()
        try:
            genl.dev_get(1)  # binds (resolves the family id and groups); lo is ifindex 1
            self.family_id = int(genl.prid)
            group = int(genl.mcast_groups["mgmt"])
        finally:
            genl.close()
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
        self.sock.bind((0, 0))
        self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
        self.sock.setblocking(False)

    def _messages(self, data: bytes) -> Iterator[tuple[int, int, dict[int, bytes]]]:
        """(nlmsg type, genl cmd, {attr type: payload}) for each message in a datagram."""
        pos = 0
        while pos + 20 <= len(data):
            length, msg_type = struct.unpack_from("=IH", data, pos)
            if length < 20:
                return
            cmd = data[pos + 16]
            attrs: dict[int, bytes] = {}
            apos, end = pos + 20, pos + length
            while apos + 4 <= end:
                alen, atype = struct.unpack_from("=HH", data, apos)
                if alen < 4:
                    break
                attrs[atype & 0x3FFF] = data[apos + 4 : apos + alen]
                apos += (alen + 3) & ~3
            yield msg_type, cmd, attrs
            pos += (length + 3) & ~3

    def xdp_feature_changes(self, ifindex: int, timeout: float) -> list[int]:
        """Read for ``timeout`` seconds; the features of each change notification of ``ifindex``."""
        found = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                break
            data = self.sock.recv(65536)
            for msg_type, cmd, attrs in self._messages(data):
                if msg_type != self.family_id or cmd != NETDEV_CMD_DEV_CHANGE_NTF:
                    continue
                dev = int.from_bytes(attrs.get(NETDEV_A_DEV_IFINDEX, b"")[:4], "little")
                if dev != ifindex:
                    continue
                raw = attrs.get(NETDEV_A_DEV_XDP_FEATURES, b"")
                found.append(int.from_bytes(raw, "little") if raw else -1)
        return found

    def close(self) -> None:
        self.sock.close()
