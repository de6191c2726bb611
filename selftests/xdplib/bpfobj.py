"""Load compiled BPF ELF objects with libbpf (libbpf.so.1) through ctypes.

Objects live under ``$XDP_SELFTEST_BPF_OBJDIR/<suite>/<stem>.bpf.o`` for the
source ``selftests/<suite>/progs/<stem>.bpf.c``. Without that variable (a
developer running pytest by hand) the source is compiled on the fly with
clang into a per-process temporary directory, with the same command line the
harness uses.
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from xdplib.closing import Closing

OBJDIR_ENV = "XDP_SELFTEST_BPF_OBJDIR"
SELFTESTS_DIR = Path(__file__).resolve().parent.parent
# Kernel tree whose tools/include/uapi the fallback compile uses: the one the
# harness names (XDP_SELFTEST_KERNEL_TREE) unless XDP_SELFTEST_KERNEL_SRC says otherwise.
KERNEL_SRC = Path(
    os.environ.get("XDP_SELFTEST_KERNEL_SRC")
    or os.environ.get("XDP_SELFTEST_KERNEL_TREE")
    or "/root/.cache/xdp-harness/linux"
)
KERNEL_UAPI_INCLUDE = KERNEL_SRC / "tools" / "include" / "uapi"
ARCH_INCLUDE = Path("/usr/include/x86_64-linux-gnu")

_c_void_p = ctypes.c_void_p


class BpfError(OSError):
    """A libbpf or bpf(2) call failed; ``errno`` holds the kernel's errno.

    ``log`` is the verifier log of a failed load, when one was asked for.
    """

    def __init__(self, err: int, what: str, log: str = "") -> None:
        err = abs(err)
        super().__init__(err, f"{what}: {os.strerror(err)} (errno {err})")
        self.log = log


def _load_libbpf() -> ctypes.CDLL:
    lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    sigs: dict[str, tuple[type | None, list[type]]] = {
        "bpf_object__open_file": (_c_void_p, [ctypes.c_char_p, _c_void_p]),
        "bpf_object__load": (ctypes.c_int, [_c_void_p]),
        "bpf_object__close": (None, [_c_void_p]),
        "bpf_object__find_program_by_name": (_c_void_p, [_c_void_p, ctypes.c_char_p]),
        "bpf_object__find_map_fd_by_name": (ctypes.c_int, [_c_void_p, ctypes.c_char_p]),
        "bpf_program__fd": (ctypes.c_int, [_c_void_p]),
        "bpf_program__set_ifindex": (None, [_c_void_p, ctypes.c_uint32]),
        "bpf_program__flags": (ctypes.c_uint32, [_c_void_p]),
        "bpf_program__set_flags": (ctypes.c_int, [_c_void_p, ctypes.c_uint32]),
        "bpf_program__set_log_buf": (ctypes.c_int, [_c_void_p, _c_void_p, ctypes.c_size_t]),
        "bpf_map_update_elem": (
            ctypes.c_int,
            [ctypes.c_int, _c_void_p, _c_void_p, ctypes.c_uint64],
        ),
        "bpf_map_lookup_elem": (ctypes.c_int, [ctypes.c_int, _c_void_p, _c_void_p]),
        "bpf_obj_get_info_by_fd": (
            ctypes.c_int,
            [ctypes.c_int, _c_void_p, ctypes.POINTER(ctypes.c_uint32)],
        ),
        "bpf_prog_get_fd_by_id": (ctypes.c_int, [ctypes.c_uint32]),
        "bpf_object__next_program": (_c_void_p, [_c_void_p, _c_void_p]),
        "bpf_program__name": (ctypes.c_char_p, [_c_void_p]),
        "bpf_program__type": (ctypes.c_int, [_c_void_p]),
        "bpf_program__set_attach_target": (
            ctypes.c_int,
            [_c_void_p, ctypes.c_int, ctypes.c_char_p],
        ),
        "bpf_program__set_expected_attach_type": (ctypes.c_int, [_c_void_p, ctypes.c_int]),
        "bpf_program__attach_freplace": (_c_void_p, [_c_void_p, ctypes.c_int, ctypes.c_char_p]),
        "bpf_link__fd": (ctypes.c_int, [_c_void_p]),
        "bpf_link__destroy": (ctypes.c_int, [_c_void_p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


_libbpf: ctypes.CDLL | None = None


def libbpf() -> ctypes.CDLL:
    global _libbpf
    if _libbpf is None:
        _libbpf = _load_libbpf()
    return _libbpf


def _check_fd(ret: int, what: str) -> int:
    if ret < 0:
        raise BpfError(ret, what)
    return ret


def _check_zero(ret: int, what: str) -> None:
    if ret != 0:
        raise BpfError(ret if ret < 0 else -(ctypes.get_errno() or errno.EINVAL), what)


def source_path(suite: str, stem: str) -> Path:
    return SELFTESTS_DIR / suite / "progs" / f"{stem}.bpf.c"


def _find_clang() -> str:
    for name in ("clang-19", "clang"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        f"{OBJDIR_ENV} is unset and neither clang-19 nor clang is in PATH: cannot build BPF objects"
    )


_fallback_dir: Path | None = None


def compile_object(src: Path, out: Path) -> None:
    """Compile one BPF C source with the harness's exact command line."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        _find_clang(),
        "-O2",
        "-g",
        "-Wall",
        "-target",
        "bpf",
        f"-I{KERNEL_UAPI_INCLUDE}",
        f"-I{ARCH_INCLUDE}",
        "-c",
        str(src),
        "-o",
        str(out),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"compiling {src} failed ({' '.join(cmd)}):\n{res.stderr}")


def object_path(suite: str, stem: str) -> Path:
    """Path of the compiled object for ``<suite>/progs/<stem>.bpf.c``."""
    objdir = os.environ.get(OBJDIR_ENV)
    if objdir:
        path = Path(objdir) / suite / f"{stem}.bpf.o"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: the harness should have compiled "
                f"{source_path(suite, stem)} into {OBJDIR_ENV}={objdir}"
            )
        return path
    global _fallback_dir
    if _fallback_dir is None:
        _fallback_dir = Path(tempfile.mkdtemp(prefix="xdp-selftest-bpfobj-"))
        atexit.register(shutil.rmtree, _fallback_dir, ignore_errors=True)
    path = _fallback_dir / suite / f"{stem}.bpf.o"
    if not path.is_file():
        compile_object(source_path(suite, stem), path)
    return path


# enum bpf_prog_type (include/uapi/linux/bpf.h)
BPF_PROG_TYPE_EXT = 28


class BpfObject(Closing):
    """An opened and loaded BPF object; programs and maps are looked up by name.

    Closing the object closes every program and map fd it owns.
    """

    def __init__(
        self,
        path: Path | str,
        prog_ifindex: dict[str, int] | None = None,
        prog_flags: dict[str, int] | None = None,
        log_size: int = 0,
        freplace_target: int | None = None,
        attach_types: dict[str, int] | None = None,
    ) -> None:
        """``prog_flags`` adds BPF_F_* load flags per program; with ``log_size``,
        a failed load's BpfError carries the verifier log (libbpf retries the
        failed load with log level 1 into the buffer).

        ``freplace_target`` is the fd of the program whose functions the
        object's extension programs (SEC("freplace/<function>")) replace: it
        must be loaded, with BTF, before them. ``attach_types`` overrides a
        program's expected_attach_type (e.g. 0 for an XDP program that goes
        into a prog_array an extension program tail calls through: the
        array's owner then has the extension's, 0, not BPF_XDP)."""
        self.path = Path(path)
        lib = libbpf()
        ctypes.set_errno(0)
        obj = lib.bpf_object__open_file(str(self.path).encode(), None)
        if not obj:
            raise BpfError(
                ctypes.get_errno() or errno.EINVAL, f"bpf_object__open_file({self.path})"
            )
        self._obj: int | None = obj
        try:
            for prog_name, ifindex in (prog_ifindex or {}).items():
                lib.bpf_program__set_ifindex(self.program(prog_name), ifindex)
            for prog_name, flags in (prog_flags or {}).items():
                prog = self.program(prog_name)
                _check_zero(
                    lib.bpf_program__set_flags(prog, lib.bpf_program__flags(prog) | flags),
                    f"bpf_program__set_flags({prog_name})",
                )
            for prog_name, attach_type in (attach_types or {}).items():
                _check_zero(
                    lib.bpf_program__set_expected_attach_type(self.program(prog_name), attach_type),
                    f"bpf_program__set_expected_attach_type({prog_name}, {attach_type})",
                )
            if freplace_target is not None:
                self._set_freplace_target(freplace_target)
            logs: list[ctypes.Array[ctypes.c_char]] = []
            if log_size:
                for prog_name in prog_flags or prog_ifindex or {}:
                    buf = ctypes.create_string_buffer(log_size)
                    logs.append(buf)
                    _check_zero(
                        lib.bpf_program__set_log_buf(self.program(prog_name), buf, log_size),
                        f"bpf_program__set_log_buf({prog_name})",
                    )
            err = lib.bpf_object__load(obj)
            if err:
                log = "".join(buf.value.decode(errors="replace") for buf in logs)
                raise BpfError(err, f"bpf_object__load({self.path})", log)
        except BaseException:
            self.close()
            raise

    def _programs(self) -> Iterator[int]:
        """libbpf's struct bpf_program pointers, in the object's order."""
        prog = None
        while True:
            prog = libbpf().bpf_object__next_program(self._obj, prog)
            if not prog:
                return
            yield int(prog)

    def _set_freplace_target(self, target_fd: int) -> None:
        """Every extension program replaces the function its section names in ``target_fd``."""
        lib = libbpf()
        extensions = [p for p in self._programs() if lib.bpf_program__type(p) == BPF_PROG_TYPE_EXT]
        if not extensions:
            raise ValueError(f"{self.path} has no extension (freplace) program")
        for prog in extensions:
            name = lib.bpf_program__name(prog).decode()
            # No function name: libbpf takes it from SEC("freplace/<function>") at load.
            _check_zero(
                lib.bpf_program__set_attach_target(prog, target_fd, None),
                f"bpf_program__set_attach_target({name}, fd {target_fd})",
            )

    def program(self, name: str) -> int:
        """libbpf's struct bpf_program pointer for the program ``name``."""
        if self._obj is None:
            raise ValueError(f"{self.path} is closed")
        prog = libbpf().bpf_object__find_program_by_name(self._obj, name.encode())
        if not prog:
            raise BpfError(errno.ENOENT, f"no program {name!r} in {self.path}")
        return int(prog)

    def prog_fd(self, name: str) -> int:
        return _check_fd(libbpf().bpf_program__fd(self.program(name)), f"bpf_program__fd({name})")

    def map_fd(self, name: str) -> int:
        if self._obj is None:
            raise ValueError(f"{self.path} is closed")
        ret = libbpf().bpf_object__find_map_fd_by_name(self._obj, name.encode())
        return _check_fd(ret, f"bpf_object__find_map_fd_by_name({name}) in {self.path}")

    def map_update(self, name: str, key: bytes, value: bytes, flags: int = 0) -> None:
        map_update_elem(self.map_fd(name), key, value, flags)

    def map_lookup(self, name: str, key: bytes, value_size: int) -> bytes:
        return map_lookup_elem(self.map_fd(name), key, value_size)

    def close(self) -> None:
        if self._obj is not None:
            libbpf().bpf_object__close(self._obj)
            self._obj = None


def map_update_elem(map_fd: int, key: bytes, value: bytes, flags: int = 0) -> None:
    kbuf = ctypes.create_string_buffer(key, len(key))
    vbuf = ctypes.create_string_buffer(value, len(value))
    ret = libbpf().bpf_map_update_elem(map_fd, kbuf, vbuf, flags)
    _check_zero(ret, f"bpf_map_update_elem(fd {map_fd})")


def map_lookup_elem(map_fd: int, key: bytes, value_size: int) -> bytes:
    kbuf = ctypes.create_string_buffer(key, len(key))
    vbuf = ctypes.create_string_buffer(value_size)
    ret = libbpf().bpf_map_lookup_elem(map_fd, kbuf, vbuf)
    _check_zero(ret, f"bpf_map_lookup_elem(fd {map_fd})")
    return vbuf.raw


def prog_id(prog_fd: int) -> int:
    """Kernel id of the program behind ``prog_fd`` (struct bpf_prog_info.id)."""
    # struct bpf_prog_info starts with __u32 type; __u32 id; the kernel copies
    # min(len, sizeof(info)) bytes, so a short buffer is enough.
    info = (ctypes.c_uint32 * 2)()
    length = ctypes.c_uint32(ctypes.sizeof(info))
    ret = libbpf().bpf_obj_get_info_by_fd(prog_fd, info, ctypes.byref(length))
    _check_zero(ret, f"bpf_obj_get_info_by_fd(fd {prog_fd})")
    return int(info[1])


def prog_exists(id_: int) -> bool:
    """Whether a program with this id is still alive in the kernel."""
    fd = libbpf().bpf_prog_get_fd_by_id(id_)
    if fd >= 0:
        os.close(fd)
        return True
    if -fd == errno.ENOENT:
        return False
    raise BpfError(fd, f"bpf_prog_get_fd_by_id({id_})")


def load(
    suite: str,
    stem: str,
    prog_ifindex: dict[str, int] | None = None,
    prog_flags: dict[str, int] | None = None,
    log_size: int = 0,
    freplace_target: int | None = None,
    attach_types: dict[str, int] | None = None,
) -> BpfObject:
    """Open and load ``<suite>/progs/<stem>.bpf.c``'s compiled object."""
    return BpfObject(
        object_path(suite, stem),
        prog_ifindex=prog_ifindex,
        prog_flags=prog_flags,
        log_size=log_size,
        freplace_target=freplace_target,
        attach_types=attach_types,
    )


# BPF_PROG_TEST_RUN flags (include/uapi/linux/bpf.h)
BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1


class BpfTestRunOpts(ctypes.Structure):
    """libbpf's struct bpf_test_run_opts (bpf.h, libbpf 1.1)."""

    _fields_ = (
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    )


class XdpMd(ctypes.Structure):
    """struct xdp_md, the context BPF_PROG_TEST_RUN takes for XDP programs."""

    _fields_ = (
        ("data", ctypes.c_uint32),
        ("data_end", ctypes.c_uint32),
        ("data_meta", ctypes.c_uint32),
        ("ingress_ifindex", ctypes.c_uint32),
        ("rx_queue_index", ctypes.c_uint32),
        ("egress_ifindex", ctypes.c_uint32),
    )


@dataclass(frozen=True)
class ProgRunResult:
    retval: int
    duration_ns: int  # average per repetition, as the kernel reports it
    data_out: bytes


def prog_test_run(
    prog_fd: int,
    data: bytes,
    repeat: int = 1,
    ingress_ifindex: int | None = None,
    flags: int = 0,
) -> ProgRunResult:
    """BPF_PROG_TEST_RUN of an XDP program on ``data``, ``repeat`` times.

    The kernel attributes the run to the device of ``ingress_ifindex`` (an
    xdp_md context is passed) or, without it, to the loopback device of the
    calling thread's network namespace. Live-frame runs
    (BPF_F_TEST_XDP_LIVE_FRAMES) return no data."""
    lib = libbpf()
    fn = lib.bpf_prog_test_run_opts
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(BpfTestRunOpts)]
    din = ctypes.create_string_buffer(data, len(data))
    live = bool(flags & BPF_F_TEST_XDP_LIVE_FRAMES)
    dout = ctypes.create_string_buffer(len(data) + 512)
    opts = BpfTestRunOpts(
        sz=ctypes.sizeof(BpfTestRunOpts),
        data_in=ctypes.cast(din, ctypes.c_void_p),
        data_size_in=len(data),
        repeat=repeat,
        flags=flags,
    )
    if not live:
        opts.data_out = ctypes.cast(dout, ctypes.c_void_p)
        opts.data_size_out = ctypes.sizeof(dout)
    ctx = XdpMd(data=0, data_end=len(data), ingress_ifindex=ingress_ifindex or 0)
    if ingress_ifindex is not None:
        opts.ctx_in = ctypes.cast(ctypes.pointer(ctx), ctypes.c_void_p)
        opts.ctx_size_in = ctypes.sizeof(ctx)
    ret = fn(prog_fd, ctypes.byref(opts))
    if ret != 0:
        raise BpfError(
            ret if ret < 0 else -(ctypes.get_errno() or errno.EINVAL),
            f"bpf_prog_test_run_opts(prog fd {prog_fd}, {len(data)} bytes, repeat {repeat}, "
            f"ingress_ifindex {ingress_ifindex}, flags {flags:#x})",
        )
    out = b"" if live else dout.raw[: opts.data_size_out]
    return ProgRunResult(int(opts.retval), int(opts.duration), out)
