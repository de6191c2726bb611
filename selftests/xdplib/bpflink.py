"""bpf_links through libbpf (libbpf.so.1, ctypes): XDP links, extension links.

``bpf_program__attach_xdp()`` takes no flags, so links are created with
``bpf_link_create(prog_fd, ifindex, BPF_XDP, opts)`` where opts carries the
XDP flags (link_create.flags). The kernel's extack for a refused
BPF_LINK_CREATE is not returned to the caller; it is only reported through
the xdp:bpf_xdp_link_attach_failed tracepoint.

Closing the link fd detaches the program (the link is not pinned).

Extension (freplace) programs are attached with
``bpf_program__attach_freplace(prog, target_fd, function)``, which finds the
function's BTF id in the target program's BTF and creates a tracing link
(BPF_LINK_CREATE with target_fd and target_btf_id). The kernel returns no
extack for it, only the errno.
"""

from __future__ import annotations

import ctypes
import errno
import os

from xdplib.closing import Closing

from .bpfobj import BpfError, BpfObject, libbpf

# enum bpf_attach_type (include/uapi/linux/bpf.h)
BPF_XDP = 37


class BpfLinkCreateOpts(ctypes.Structure):
    """The leading fields of libbpf's struct bpf_link_create_opts (bpf.h, libbpf 1.1).

    ``sz`` tells libbpf how much of the structure the caller knows; fields
    past it read as zero, which is what an XDP link needs.
    """

    _fields_ = (
        ("sz", ctypes.c_size_t),
        ("flags", ctypes.c_uint32),
    )


class BpfLinkUpdateOpts(ctypes.Structure):
    """libbpf's struct bpf_link_update_opts: sz, flags, old_prog_fd."""

    _fields_ = (
        ("sz", ctypes.c_size_t),
        ("flags", ctypes.c_uint32),
        ("old_prog_fd", ctypes.c_uint32),
    )


def _lib() -> ctypes.CDLL:
    lib = libbpf()
    lib.bpf_link_create.restype = ctypes.c_int
    lib.bpf_link_create.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(BpfLinkCreateOpts),
    ]
    lib.bpf_link_update.restype = ctypes.c_int
    lib.bpf_link_update.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(BpfLinkUpdateOpts),
    ]
    return lib


def link_create_xdp(prog_fd: int, ifindex: int, flags: int) -> int:
    """BPF_LINK_CREATE of an XDP program on ``ifindex``; returns the link fd.

    Raises BpfError with the kernel's errno on refusal.
    """
    opts = BpfLinkCreateOpts(sz=ctypes.sizeof(BpfLinkCreateOpts), flags=flags)
    fd = _lib().bpf_link_create(prog_fd, ifindex, BPF_XDP, ctypes.byref(opts))
    if fd < 0:
        raise BpfError(
            fd, f"bpf_link_create(prog fd {prog_fd}, ifindex {ifindex}, flags {flags:#x})"
        )
    return int(fd)


def link_update(link_fd: int, new_prog_fd: int, old_prog_fd: int | None = None) -> None:
    """BPF_LINK_UPDATE: put ``new_prog_fd`` behind the link.

    With ``old_prog_fd`` the kernel only swaps if that program is the
    current one (BPF_F_REPLACE).
    """
    opts = BpfLinkUpdateOpts(sz=ctypes.sizeof(BpfLinkUpdateOpts))
    if old_prog_fd is not None:
        opts.flags = 1 << 2  # BPF_F_REPLACE
        opts.old_prog_fd = old_prog_fd
    ret = _lib().bpf_link_update(link_fd, new_prog_fd, ctypes.byref(opts))
    if ret != 0:
        raise BpfError(ret, f"bpf_link_update(link fd {link_fd}, prog fd {new_prog_fd})")


class XdpLink(Closing):
    """An XDP bpf_link owned by this process: ``close()`` detaches it."""

    def __init__(self, prog_fd: int, ifindex: int, flags: int) -> None:
        self.ifindex = ifindex
        self.flags = flags
        self.fd: int | None = link_create_xdp(prog_fd, ifindex, flags)

    def update(self, new_prog_fd: int, old_prog_fd: int | None = None) -> None:
        if self.fd is None:
            raise ValueError("link is closed")
        link_update(self.fd, new_prog_fd, old_prog_fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class FreplaceLink(Closing):
    """An extension program of ``obj`` replacing ``function`` of the program ``target_fd``.

    ``close()`` destroys the link, which detaches the extension.
    """

    def __init__(self, obj: BpfObject, prog: str, target_fd: int, function: str) -> None:
        self.prog = prog
        self.function = function
        lib = libbpf()
        ctypes.set_errno(0)
        link = lib.bpf_program__attach_freplace(obj.program(prog), target_fd, function.encode())
        if not link:
            raise BpfError(
                ctypes.get_errno() or errno.EINVAL,
                f"bpf_program__attach_freplace({prog}, target fd {target_fd}, {function})",
            )
        self._link: int | None = int(link)

    @property
    def fd(self) -> int:
        if self._link is None:
            raise ValueError(f"the link of {self.prog} is closed")
        return int(libbpf().bpf_link__fd(self._link))

    def close(self) -> None:
        if self._link is not None:
            libbpf().bpf_link__destroy(self._link)
            self._link = None
