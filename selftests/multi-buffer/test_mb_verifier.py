"""The verifier treats bpf_xdp_pull_data() as changing packet data.

Packet pointers taken before the call are invalid after it, also across a
global function that calls it; an extension program that calls it may not
replace a function that does not. The controls load: the same calls with
the pointers taken again, and an extension that only reads the frame's shape.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from xdplib.bpfobj import BpfError, BpfObject

LOG = 1 << 20


def load_fails(
    load_bpf: Callable[..., BpfObject], stem: str, code: int, log_has: str, **kw: object
) -> None:
    with pytest.raises(BpfError) as exc:
        load_bpf(stem, prog_flags={stem: 0}, log_size=LOG, **kw)
    err = exc.value
    assert err.errno == code, f"{stem}: expected {errno.errorcode[code]}, got {err!r}"
    assert log_has in err.log, f"{stem}: the verifier log lacks {log_has!r}:\n{err.log[-2000:]}"


def test_pointer_across_the_pull_refused(load_bpf: Callable[..., BpfObject]) -> None:
    load_fails(load_bpf, "mb_stale_ptr", errno.EACCES, "invalid mem access 'scalar'")


def test_pointer_across_a_global_function_that_pulls_refused(
    load_bpf: Callable[..., BpfObject],
) -> None:
    load_fails(load_bpf, "mb_stale_global", errno.EACCES, "invalid mem access 'scalar'")


def test_pointers_taken_again_accepted(load_bpf: Callable[..., BpfObject]) -> None:
    obj = load_bpf("mb_fresh_ptr")
    assert obj.prog_fd("mb_fresh_ptr") >= 0


def test_extension_that_pulls_refused(load_bpf: Callable[..., BpfObject]) -> None:
    dispatcher = load_bpf("mb_dispatcher").prog_fd("mb_dispatcher")
    load_fails(
        load_bpf,
        "mb_ext_pull",
        errno.EINVAL,
        "Extension program changes packet data, while original does not",
        freplace_target=dispatcher,
    )
    plain = load_bpf("mb_ext_plain", freplace_target=dispatcher)
    assert plain.prog_fd("mb_ext_plain") >= 0
