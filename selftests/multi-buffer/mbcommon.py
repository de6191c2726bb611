"""What the multi-buffer tests share: jumbo frames with known bytes, the layout the
kernel gives them, the mb_inspect program's configuration and records, raw captures,
and the kernel's log and memory counters.

Frames (``build_frame``) are Ethernet / IPv4 / UDP to MB_DPORT from
SLOT_SPORT_BASE + slot, with valid checksums; the payload starts with
``MB_MAGIC``, the slot and a sequence number, then bytes of a fixed pattern
taken at an offset that depends on the sequence number, so that two frames,
or two pages of one frame, never have the same bytes at the same place.

The layout (``veth_shape``): veth in native mode and generic XDP on any
device copy a frame that is not one linear buffer with 256 bytes of
headroom (every frame sent through AF_PACKET is one of those) into
page_pool memory (skb_pp_cow_data(), net/core/skbuff.c): the first
LINEAR_MAX bytes into a linear area of one page, the rest into frags of a
page each, the last one shorter. LINEAR_MAX is
SKB_WITH_OVERHEAD(PAGE_SIZE - XDP_PACKET_HEADROOM) = 4096 - 256 - 320 on
x86_64: that linear area ends where the skb_shared_info begins, so it has
no tailroom left.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import select
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from xdplib import bpfobj
from xdplib.closing import Closing
from xdplib.netns import NetNS, Port, create_veth, inside
from xdplib.poll import settle, wait_until
from xdplib.tracefs import TraceInstance

PAGE_SIZE = 4096
XDP_PACKET_HEADROOM = 256
SKB_SHARED_INFO = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), x86_64, 17 frags
LINEAR_MAX = PAGE_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO  # 3520
ETH_HLEN = 14
HDRS_LEN = 14 + 20 + 8
JUMBO_MTU = 9000
MAX_JUMBO_FRAME = JUMBO_MTU + ETH_HLEN

MB_DPORT = 40000
SLOT_SPORT_BASE = 50000
SLOTS = 32
MB_MAGIC = b"MBSELFTEST"
SRC_IP = "192.0.2.1"
DST_IP = "192.0.2.2"

# progs/mb_inspect.bpf.c
MAX_FRAME = 9216
MAX_HEAD = 4096
CHUNK = 256  # frames shorter than this are not copied
OP_NONE, OP_PULL, OP_PULL_HEAD_PLUS, OP_PULL_LEN_PLUS, OP_TAIL = range(5)
R_IFINDEX, R_MAP, R_BROADCAST, R_BROADCAST_EXCLUDE_INGRESS = range(4)

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
XDP_INVALID = 7
ACTIONS = ("aborted", "drop", "pass", "tx", "redirect", "invalid")

BPF_F_XDP_HAS_FRAGS = 1 << 5

# A long pattern: byte i is (7 * i + i // 256) mod 256, so that shifting a slice by a
# page (4096 = 16 * 256) changes every byte.
_PATTERN = bytes((7 * i + i // 256) & 0xFF for i in range(MAX_FRAME + 4096))


@dataclass(frozen=True)
class Shape:
    """What the program saw: linear bytes, frags, bytes in frags, frame length."""

    head: int
    nr_frags: int
    frags_len: int
    buff_len: int


# bpf_xdp_pull_data() moves the linear data down into the headroom when the
# tailroom is short, keeping room for a struct xdp_frame (40 bytes, x86_64).
XDP_FRAME_SIZE = 40
VETH_PULL_HEADROOM = XDP_PACKET_HEADROOM - XDP_FRAME_SIZE  # 216: veth, generic, test runs


def pulled_shape(before: Shape, length: int, frag_size: int) -> Shape:
    """The layout after pulling the linear area up to ``length`` bytes from frags of
    ``frag_size`` bytes (the last one shorter): emptied frags are released."""
    moved = length - before.head
    first = min(frag_size, before.frags_len)
    released = 0
    if moved >= first:
        rest = moved - first
        released = 1 + rest // frag_size
    return Shape(length, before.nr_frags - released, before.frags_len - moved, before.buff_len)


def veth_shape(length: int) -> Shape:
    """The layout of a ``length``-byte frame in native veth and generic XDP."""
    head = min(length, LINEAR_MAX)
    rest = length - head
    return Shape(head, -(-rest // PAGE_SIZE), rest, length)


# virtio_net with an XDP program posts receive buffers of PAGE_SIZE less headroom
# and skb_shared_info (get_mergeable_buf_len()), the virtio-net header first.
VIRTIO_HDR_LEN = 12
VIRTIO_XDP_BUF = PAGE_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO  # 3520
VIRTIO_LINEAR_MAX = VIRTIO_XDP_BUF - VIRTIO_HDR_LEN  # 3508


VIRTIO_PULL_HEADROOM = XDP_PACKET_HEADROOM + VIRTIO_HDR_LEN - XDP_FRAME_SIZE  # 228


def virtio_shape(length: int) -> Shape:
    """The layout of a ``length``-byte frame in buffers posted while XDP is attached."""
    head = min(length, VIRTIO_LINEAR_MAX)
    rest = length - head
    return Shape(head, -(-rest // VIRTIO_XDP_BUF), rest, length)


def linear_shape(length: int) -> Shape:
    return Shape(length, 0, 0, length)


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def payload_for(length: int, slot: int, seq: int) -> bytes:
    """The UDP payload of a ``length``-byte frame."""
    head = MB_MAGIC + struct.pack("!HI", slot, seq)
    size = length - HDRS_LEN - len(head)
    if size < 0:
        raise ValueError(f"a frame of {length} bytes is too short for the headers")
    off = (seq * 131) % 4096
    return head + _PATTERN[off : off + size]


def build_frame(
    src_mac: str,
    dst_mac: str,
    length: int,
    slot: int = 0,
    seq: int = 0,
    src_ip: str = SRC_IP,
    dst_ip: str = DST_IP,
    dport: int = MB_DPORT,
) -> bytes:
    """An Ethernet frame of exactly ``length`` bytes (see the module's docstring)."""
    payload = payload_for(length, slot, seq)
    sport = SLOT_SPORT_BASE + slot
    udp_len = 8 + len(payload)
    sip, dip = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    pseudo = sip + dip + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0)
    csum = _csum(pseudo + udp + payload) or 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, udp_len, csum)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, seq & 0xFFFF, 0, 64, socket.IPPROTO_UDP, 0, sip, dip
    )
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    eth = _mac(dst_mac) + _mac(src_mac) + struct.pack("!H", 0x0800)
    frame = eth + ip + udp + payload
    assert len(frame) == length
    return frame


def swap_macs(frame: bytes) -> bytes:
    return frame[6:12] + frame[0:6] + frame[12:]


def frame_id(frame: bytes) -> tuple[int, int] | None:
    """(slot, seq) of a crafted frame, None for anything else."""
    start = HDRS_LEN
    if frame[start : start + len(MB_MAGIC)] != MB_MAGIC:
        return None
    slot, seq = struct.unpack_from("!HI", frame, start + len(MB_MAGIC))
    return slot, seq


def first_difference(got: bytes, want: bytes) -> str:
    """Where two byte strings differ, for a failure message; "" if they are equal."""
    if got == want:
        return ""
    n = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
    if n is None:
        return f"lengths differ: got {len(got)} bytes, expected {len(want)}"
    return (
        f"first difference at byte {n} of {len(want)} (got {len(got)}): "
        f"got {got[n : n + 16].hex()} expected {want[n : n + 16].hex()}"
    )


# ---- the program -------------------------------------------------------------------

_CONFIG = struct.Struct("=IIiIIIIII")
_REC_HEAD = struct.Struct("=QiI4I4III")
_TOTALS = struct.Struct("=7Q6Q6Q6Q")
_U32 = struct.Struct("=I")


@dataclass
class Config:
    verdict: int = XDP_PASS
    op: int = OP_NONE
    arg: int = 0
    copy: bool = False
    redirect: int = R_IFINDEX
    ifindex: int = 0
    map_key: int = 0
    use_hash: bool = False
    mb_only: bool = False

    def pack(self) -> bytes:
        return _CONFIG.pack(
            self.verdict,
            self.op,
            self.arg,
            int(self.copy),
            self.redirect,
            self.ifindex,
            self.map_key,
            int(self.use_hash),
            int(self.mb_only),
        )


@dataclass(frozen=True)
class Rec:
    """What the program recorded for the last frame of a slot."""

    seen: int
    ret: int
    verdict: int
    before: Shape
    after: Shape
    copied: int
    direct: int
    frame: bytes  # bytes[:copied]: the frame after the op, read with dynptr slices
    head: bytes  # head[:direct]: the linear area after the op, direct packet access


@dataclass(frozen=True)
class Totals:
    frames: int
    strays: int
    mb_in: int
    op_ok: int
    op_err: int
    frags_released: int
    copy_fail: int
    packets: tuple[int, ...]  # per ACTIONS bucket
    bytes: tuple[int, ...]
    mb_packets: tuple[int, ...]

    def bucket(self, action: str) -> tuple[int, int, int]:
        i = ACTIONS.index(action)
        return self.packets[i], self.bytes[i], self.mb_packets[i]


REC_SIZE = _REC_HEAD.size + MAX_FRAME + MAX_HEAD


class MbProg:
    """A loaded mb_inspect object (its program has BPF_F_XDP_HAS_FRAGS) or
    mb_inspect_sb object (the same program without)."""

    def __init__(self, obj: bpfobj.BpfObject, name: str) -> None:
        self.obj = obj
        self.name = name
        self.fd = obj.prog_fd(name)

    def configure(self, cfg: Config) -> None:
        self.obj.map_update("config", _U32.pack(0), cfg.pack())

    def rec(self, slot: int) -> Rec:
        raw = self.obj.map_lookup("recs", _U32.pack(slot), REC_SIZE)
        f = _REC_HEAD.unpack_from(raw)
        copied, direct = f[11], f[12]
        base = _REC_HEAD.size
        return Rec(
            seen=f[0],
            ret=f[1],
            verdict=f[2],
            before=Shape(*f[3:7]),
            after=Shape(*f[7:11]),
            copied=copied,
            direct=direct,
            frame=raw[base : base + min(copied, MAX_FRAME)],
            head=raw[base + MAX_FRAME : base + MAX_FRAME + min(direct, MAX_HEAD)],
        )

    def totals(self) -> Totals:
        f = _TOTALS.unpack(self.obj.map_lookup("totals", _U32.pack(0), _TOTALS.size))
        return Totals(
            frames=f[0],
            strays=f[1],
            mb_in=f[2],
            op_ok=f[3],
            op_err=f[4],
            frags_released=f[5],
            copy_fail=f[6],
            packets=tuple(f[7:13]),
            bytes=tuple(f[13:19]),
            mb_packets=tuple(f[19:25]),
        )

    def set_devmap(self, ns: NetNS, key: int, ifindex: int, hash_map: bool = False) -> None:
        """Put ``ifindex`` (a device of ``ns``: devmaps resolve it in the caller's
        namespace) at ``key`` of tx_port (or tx_hash)."""
        with inside(ns):
            self.obj.map_update(
                "tx_hash" if hash_map else "tx_port", _U32.pack(key), _U32.pack(ifindex)
            )

    def map_id(self, name: str) -> int:
        return bpfobj.prog_id(self.obj.map_fd(name))  # bpf_map_info starts type, id too

    def wait_frames(self, count: int, timeout: float = 10.0) -> Totals:
        """Poll the totals until ``count`` crafted frames were seen (or the timeout)."""
        return wait_until(self.totals, lambda t: t.frames >= count, timeout)

    def test_run(self, data: bytes, linear: int, repeat: int = 1) -> bpfobj.ProgRunResult:
        """BPF_PROG_TEST_RUN with ``linear`` bytes in the linear area (ctx.data_end)."""
        return test_run(self.fd, data, linear, repeat)


# ---- BPF_PROG_TEST_RUN with a linear length ------------------------------------------


def test_run(prog_fd: int, data: bytes, linear: int, repeat: int = 1) -> bpfobj.ProgRunResult:
    """BPF_PROG_TEST_RUN of ``data`` with ctx.data_end = ``linear``: the kernel puts
    that much in the linear area (at most a page less headroom and skb_shared_info)
    and the rest in frags of a page each. data_out is the whole frame after the run."""
    lib = bpfobj.libbpf()
    fn = lib.bpf_prog_test_run_opts
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(bpfobj.BpfTestRunOpts)]
    din = ctypes.create_string_buffer(data, len(data))
    dout = ctypes.create_string_buffer(len(data) + PAGE_SIZE)
    ctx = bpfobj.XdpMd(data=0, data_end=linear)
    opts = bpfobj.BpfTestRunOpts(
        sz=ctypes.sizeof(bpfobj.BpfTestRunOpts),
        data_in=ctypes.cast(din, ctypes.c_void_p),
        data_size_in=len(data),
        data_out=ctypes.cast(dout, ctypes.c_void_p),
        data_size_out=ctypes.sizeof(dout),
        ctx_in=ctypes.cast(ctypes.pointer(ctx), ctypes.c_void_p),
        ctx_size_in=ctypes.sizeof(ctx),
        repeat=repeat,
    )
    ret = fn(prog_fd, ctypes.byref(opts))
    if ret != 0:
        raise bpfobj.BpfError(
            ret if ret < 0 else -(ctypes.get_errno() or errno.EINVAL),
            f"bpf_prog_test_run_opts({len(data)} bytes, {linear} linear, repeat {repeat})",
        )
    out = dout.raw[: opts.data_size_out]
    return bpfobj.ProgRunResult(int(opts.retval), int(opts.duration), out)


class TestRunLoop:
    """The same BPF_PROG_TEST_RUN, many times, with as little Python per run as can be:
    one prepared bpf_test_run_opts, no data_out."""

    __test__ = False  # a helper the tests import, not a test class for pytest to collect

    def __init__(self, prog_fd: int, data: bytes, linear: int) -> None:
        lib = bpfobj.libbpf()
        self._fn = lib.bpf_prog_test_run_opts
        self._fn.restype = ctypes.c_int
        self._fn.argtypes = [ctypes.c_int, ctypes.POINTER(bpfobj.BpfTestRunOpts)]
        self._fd = prog_fd
        self._din = ctypes.create_string_buffer(data, len(data))
        self._ctx = bpfobj.XdpMd(data=0, data_end=linear)
        self._opts = bpfobj.BpfTestRunOpts(
            sz=ctypes.sizeof(bpfobj.BpfTestRunOpts),
            data_in=ctypes.cast(self._din, ctypes.c_void_p),
            data_size_in=len(data),
            ctx_in=ctypes.cast(ctypes.pointer(self._ctx), ctypes.c_void_p),
            ctx_size_in=ctypes.sizeof(self._ctx),
            repeat=1,
        )
        self._ref = ctypes.byref(self._opts)

    def run(self, count: int) -> dict[int, int]:
        """``count`` runs; how many returned each retval (a failed run raises)."""
        fn, fd, ref, opts = self._fn, self._fd, self._ref, self._opts
        seen: dict[int, int] = {}
        for _ in range(count):
            if fn(fd, ref) != 0:
                raise bpfobj.BpfError(ctypes.get_errno() or errno.EINVAL, "bpf_prog_test_run_opts")
            seen[opts.retval] = seen.get(opts.retval, 0) + 1
        return seen


# ---- topology -------------------------------------------------------------------------


@dataclass(frozen=True)
class Jumbo:
    """sender --veth-- receiver, both at MTU 9000, in two namespaces."""

    sender: Port
    receiver: Port


@dataclass(frozen=True)
class JumboRedirect:
    """sender --veth-- receiver | target --veth-- target_peer, all at MTU 9000;
    receiver and target share a namespace."""

    sender: Port
    receiver: Port
    target: Port
    target_peer: Port


LoadProg = Callable[..., MbProg]  # the mb_prog fixture: mb_prog(frags=True)
AttachProg = Callable[..., MbProg]  # attach_prog(port, mode, frags=True)
TraceFn = Callable[..., TraceInstance]  # trace("xdp/xdp_redirect_err", ...)


def set_mtu(port: Port, mtu: int) -> None:
    port.ns.ipr.link("set", index=port.ifindex, mtu=mtu)


def jumbo_veth(a_ns: NetNS, a: str, b_ns: NetNS, b: str, mtu: int = JUMBO_MTU) -> tuple[Port, Port]:
    """A veth pair with both ends at ``mtu``, up."""
    pa, pb = create_veth(a_ns, a, b_ns, b, up=False)
    for p in (pa, pb):
        set_mtu(p, mtu)
        p.ns.set_up(p.ifname)
    return pa, pb


def add_ipv4(port: Port, address: str, prefixlen: int = 24) -> None:
    port.ns.ipr.addr("add", index=port.ifindex, address=address, prefixlen=prefixlen)


# ---- traffic ----------------------------------------------------------------------------

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33


def send_frames(port: Port, frames: Iterable[bytes]) -> int:
    with inside(port.ns):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.bind((port.ifname, 0))
        n = 0
        for frame in frames:
            sock.send(frame)
            n += 1
        return n
    finally:
        sock.close()


class _Iovec(ctypes.Structure):
    _fields_ = (("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t))


class _Msghdr(ctypes.Structure):
    _fields_ = (
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.POINTER(_Iovec)),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    )


class _Mmsghdr(ctypes.Structure):
    _fields_ = (("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint))


class Blaster:
    """Sends one frame many times through AF_PACKET with sendmmsg(2), in batches."""

    def __init__(self, port: Port, frame: bytes, batch: int = 64) -> None:
        with inside(port.ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.sock.bind((port.ifname, 0))
        self._buf = ctypes.create_string_buffer(frame, len(frame))
        self._iov = _Iovec(ctypes.cast(self._buf, ctypes.c_void_p), len(frame))
        self._msgs = (_Mmsghdr * batch)()
        for m in self._msgs:
            m.msg_hdr.msg_iov = ctypes.pointer(self._iov)
            m.msg_hdr.msg_iovlen = 1
        self.batch = batch
        libc = ctypes.CDLL(None, use_errno=True)
        self._sendmmsg = libc.sendmmsg
        self._sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
        self._sendmmsg.restype = ctypes.c_int

    def send(self, count: int) -> None:
        """``count`` frames (at most one batch)."""
        left = count
        while left:
            n = self._sendmmsg(self.sock.fileno(), self._msgs, min(left, self.batch), 0)
            if n < 0:
                err = ctypes.get_errno()
                raise OSError(err, f"sendmmsg: {os.strerror(err)}")
            left -= n

    def close(self) -> None:
        self.sock.close()


class RawCapture(Closing):
    """AF_PACKET capture of the crafted frames a port receives, raw bytes."""

    def __init__(self, port: Port) -> None:
        self.port = port
        with inside(port.ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        self.sock.bind((port.ifname, ETH_P_ALL))
        self.sock.setblocking(False)
        self.frames: list[bytes] = []

    def _drain(self, wait: float) -> None:
        ready, _, _ = select.select([self.sock], [], [], max(wait, 0.0))
        if not ready:
            return
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
            except BlockingIOError:
                return
            if addr[2] != PACKET_OUTGOING and frame_id(data) is not None:
                self.frames.append(data)

    def collect(self, count: int, timeout: float, quiet: float = 0.0) -> list[bytes]:
        """Read until ``count`` crafted frames arrived (or ``timeout``), then for
        ``quiet`` more seconds (frames that should not come get the time to)."""
        return collect_all([(self, count)], timeout, quiet)[0]

    def close(self) -> None:
        self.sock.close()


class _Source(Protocol):
    frames: list[bytes]

    def _drain(self, wait: float) -> None: ...


def collect_all(
    sources: list[tuple[_Source, int]], timeout: float, quiet: float
) -> list[list[bytes]]:
    """Read every source until each has its count of frames (or ``timeout``), then all
    of them for ``quiet`` more seconds; the frames of each."""
    deadline = time.monotonic() + timeout
    for src, count in sources:
        while len(src.frames) < count and time.monotonic() < deadline:
            src._drain(min(0.2, deadline - time.monotonic()))
    end = time.monotonic() + quiet
    while True:
        for src, _ in sources:
            src._drain(0.0)
        left = end - time.monotonic()
        if left <= 0:
            return [src.frames for src, _ in sources]
        time.sleep(min(left, 0.05))


def by_id(frames: Iterable[bytes]) -> dict[tuple[int, int], list[bytes]]:
    out: dict[tuple[int, int], list[bytes]] = {}
    for f in frames:
        fid = frame_id(f)
        assert fid is not None
        out.setdefault(fid, []).append(f)
    return out


def check_delivered(got: list[bytes], want: dict[tuple[int, int], bytes], where: str) -> None:
    """Each expected frame arrived exactly once, byte for byte, and nothing else."""
    seen = by_id(got)
    missing = sorted(set(want) - set(seen))
    extra = sorted(set(seen) - set(want))
    twice = sorted(k for k, v in seen.items() if len(v) > 1)
    assert not missing and not extra and not twice, (
        f"{where}: {len(got)} frames arrived; missing (slot, seq) {missing[:8]}, "
        f"unexpected {extra[:8]}, more than once {twice[:8]}"
    )
    for key, frame in want.items():
        diff = first_difference(seen[key][0], frame)
        assert not diff, f"{where}: frame {key} ({len(frame)} bytes): {diff}"


# ---- the kernel's log and memory --------------------------------------------------------

SPLAT = re.compile(
    r"BUG: |kernel BUG at |Oops: |general protection fault|UBSAN: |"
    r"WARNING: CPU: \d+ PID: \d+ at |WARNING: at |Kernel panic|"
    r"unable to handle (kernel )?(page fault|paging request|NULL pointer)|"
    r"list_(add|del) corruption|refcount_t: |stalled pool shutdown|page_pool leak"
)


class KernelLog:
    """The records /dev/kmsg gets from now on."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def read(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten records: go on
                    continue
                raise
            if not rec:
                return out
            text = rec.decode(errors="replace")
            out.append(text.split(";", 1)[-1].rstrip("\n"))

    def splats(self) -> list[str]:
        return [line for line in self.read() if SPLAT.search(line)]

    def close(self) -> None:
        os.close(self.fd)


def meminfo() -> dict[str, int]:
    """/proc/meminfo in kB."""
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, rest = line.split(":", 1)
        out[name] = int(rest.split()[0])
    return out


# MemAvailable moves by a few pages with nothing to do with the test (a kworker's
# stack, a per-CPU list refilled): readings are compared in steps of this many kB.
MEMINFO_STEP_KB = 64
# How long MemAvailable must stay in one step before what the test freed is believed
# back (RCU callbacks, deferred frees: a grace period under TCG can take hundreds of ms).
MEMINFO_QUIET = 1.0


def settled_meminfo(timeout: float = 5.0) -> dict[str, int]:
    """/proc/meminfo once what the test freed is back: MemAvailable polled until it
    stayed in one MEMINFO_STEP_KB step for MEMINFO_QUIET seconds (or ``timeout``: the
    caller's tolerance then decides), then the page and slab caches dropped."""

    def available() -> int:
        return meminfo()["MemAvailable"] // MEMINFO_STEP_KB

    with contextlib.suppress(AssertionError):  # still moving at the timeout
        settle(available, quiet=MEMINFO_QUIET, timeout=timeout, what="MemAvailable")
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    return meminfo()


# ---- tun/tap ----------------------------------------------------------------------------

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


class Tap:
    """A tap device in ``ns`` (it goes when closed): tun advertises NDO_XMIT but not
    NDO_XMIT_SG, and what it transmits is read here, raw."""

    def __init__(self, ns: NetNS, name: str, mtu: int = JUMBO_MTU) -> None:
        with inside(ns):
            self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        ifr = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI)
        fcntl.ioctl(self.fd, TUNSETIFF, ifr)
        self.port = Port.lookup(ns, name)
        set_mtu(self.port, mtu)
        ns.set_up(name)
        self.frames: list[bytes] = []

    def _drain(self, wait: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], max(wait, 0.0))
        while ready:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if frame_id(data) is not None:
                self.frames.append(data)

    def collect(self, count: int, timeout: float, quiet: float = 0.0) -> list[bytes]:
        """Crafted frames the device transmitted: until ``count`` (or ``timeout``),
        then ``quiet`` more seconds."""
        return collect_all([(self, count)], timeout, quiet)[0]

    def close(self) -> None:
        os.close(self.fd)


class UdpSink:
    """A UDP socket bound to ``address``:MB_DPORT in ``ns``: what the stack delivers."""

    def __init__(self, ns: NetNS, address: str = DST_IP, port: int = MB_DPORT) -> None:
        with inside(ns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        self.sock.bind((address, port))
        self.sock.setblocking(False)
        self.datagrams: list[tuple[bytes, tuple[str, int]]] = []

    def collect(self, count: int, timeout: float, quiet: float = 0.0) -> list[bytes]:
        """Payloads, until ``count`` arrived (or ``timeout``), then ``quiet`` more seconds."""
        deadline = time.monotonic() + timeout
        end: float | None = None
        while True:
            now = time.monotonic()
            if end is None and (len(self.datagrams) >= count or now >= deadline):
                end = now + quiet
            if end is not None and now >= end:
                return [d for d, _ in self.datagrams]
            limit = (end if end is not None else deadline) - now
            ready, _, _ = select.select([self.sock], [], [], max(min(limit, 0.2), 0.0))
            while ready:
                try:
                    self.datagrams.append(self.sock.recvfrom(65536))
                except BlockingIOError:
                    break

    def close(self) -> None:
        self.sock.close()
