"""The XDP features the verifier derives for a program, read four ways.

kernel/bpf/verifier.c (patch 1): every XDP program needs basic; a redirect
helper call (bpf_redirect, bpf_redirect_map) the verifier walks adds
redirect. Loading with BPF_F_XDP_HAS_FRAGS (libbpf's "xdp.frags") adds
nothing since v2: a frags program can handle multi-buffer frames, it does
not need them (no rx-sg). Calls in dead code are not walked. Programs of
other types need nothing (0), even when they call bpf_redirect().

The value is read from the program fd's fdinfo ("xdp_features:\\t%#x", a
line XDP programs have and programs of other types do not), from struct
bpf_prog_info (the u32 that replaced the trailing padding), and from the
tree's bpftool, plain ("xdp_features basic redirect") and JSON
("xdp_features": ["basic", "redirect"]); bpftool prints nothing for 0. A
program no enforced attach has installed has no "xdp_features_allowed" line.
"""

from __future__ import annotations

import errno
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from ffcommon import (
    BASIC,
    BPF_FUNC_REDIRECT_MAP,
    FDINFO_FEATURES,
    FDINFO_PROG_LOCK,
    REDIRECT,
    ProgInfoLayout,
    bpf_refused,
    describe,
    elf_section,
    feature_names,
    helper_calls,
    prog_info,
    prog_info_layout,
)
from xdplib import bpfobj
from xdplib.bpfobj import BpfObject
from xdplib.fdinfo import fdinfo_values

LoadFn = Callable[..., BpfObject]
BpftoolFn = Callable[..., str]


@dataclass(frozen=True)
class Case:
    stem: str  # progs/<stem>.bpf.c
    prog: str  # program name in the object
    features: int  # what the verifier must derive

    def __str__(self) -> str:
        return self.prog


CASES = [
    Case("xdp_pass", "xdp_pass", BASIC),
    Case("xdp_drop", "xdp_drop", BASIC),
    Case("xdp_redirect_map", "xdp_redirect_map", BASIC | REDIRECT),
    Case("xdp_redirect", "xdp_redirect", BASIC | REDIRECT),
    # Frags programs: no rx-sg (v1 derived it).
    Case("xdp_pass_frags", "xdp_pass_frags", BASIC),
    Case("xdp_redirect_frags", "xdp_redirect_frags", BASIC | REDIRECT),
    # The redirect call sits behind a frozen .rodata constant that is 0.
    Case("xdp_redirect_dead", "xdp_redirect_dead", BASIC),
    # The same code with the guard in writable .bss: the call is walked.
    Case("xdp_redirect_maybe", "xdp_redirect_maybe", BASIC | REDIRECT),
    # XDP_REDIRECT returned without a helper call sets no target.
    Case("xdp_redirect_verdict", "xdp_redirect_verdict", BASIC),
    # Other program types: 0, and no fdinfo line (a tc program calling bpf_redirect too).
    Case("not_xdp", "sock_filter_accept_all", 0),
    Case("not_xdp", "tc_redirect", 0),
]
XDP_CASES = [c for c in CASES if c.stem != "not_xdp"]
each_case = pytest.mark.parametrize("case", CASES, ids=str)


def _prog_fd(load_bpf: LoadFn, case: Case) -> int:
    return load_bpf(case.stem).prog_fd(case.prog)


@pytest.fixture
def layout(load_bpf: LoadFn) -> ProgInfoLayout:
    return prog_info_layout(load_bpf("prog_info_layout"))


@each_case
def test_fdinfo_reports_needed_features(load_bpf: LoadFn, case: Case) -> None:
    """One line for XDP programs (which all need basic at least), none for the others."""
    fd = _prog_fd(load_bpf, case)
    values = fdinfo_values(fd, FDINFO_FEATURES)
    expected = [f"{case.features:#x}"] if case.features else []
    assert values == expected, (
        f"{case.prog}: expected xdp_features fdinfo values {expected} "
        f"({describe(case.features)}), got {values}"
    )


@pytest.mark.parametrize("case", XDP_CASES, ids=str)
def test_fdinfo_has_no_lock_before_an_enforced_attach(load_bpf: LoadFn, case: Case) -> None:
    values = fdinfo_values(_prog_fd(load_bpf, case), FDINFO_PROG_LOCK)
    assert values == [], f"{case.prog}, just loaded: xdp_features_allowed values {values}"


@each_case
def test_prog_info_reports_needed_features(
    load_bpf: LoadFn, layout: ProgInfoLayout, case: Case
) -> None:
    fd = _prog_fd(load_bpf, case)
    info = prog_info(fd, buf_len=layout.size)
    assert len(info) == layout.size, (
        f"the kernel filled {len(info)} bytes of a {layout.size}-byte struct bpf_prog_info"
    )
    (value,) = struct.unpack_from("I", info, layout.xdp_features_offset)
    assert value == case.features, (
        f"{case.prog}: bpf_prog_info.xdp_features should be {describe(case.features)}, "
        f"got {describe(value)}"
    )


def test_prog_info_field_replaces_the_trailing_padding(
    load_bpf: LoadFn, layout: ProgInfoLayout
) -> None:
    """xdp_features is the u32 after attach_btf_id, the last one: the struct did not grow."""
    assert layout.xdp_features_offset == layout.attach_btf_id_offset + 4, (
        f"xdp_features should follow attach_btf_id (at {layout.attach_btf_id_offset}), "
        f"found at {layout.xdp_features_offset}"
    )
    assert layout.size == layout.xdp_features_offset + 4, (
        f"xdp_features should be the last u32 of the {layout.size}-byte struct, "
        f"found at offset {layout.xdp_features_offset}"
    )
    # With a larger, zeroed buffer the kernel reports its own struct size.
    fd = load_bpf("xdp_pass").prog_fd("xdp_pass")
    kernel_size = len(prog_info(fd, buf_len=4 * layout.size))
    assert kernel_size == layout.size, (
        f"the kernel's struct bpf_prog_info is {kernel_size} bytes, the UAPI header's {layout.size}"
    )


def test_prog_info_checks_zeroes_only_after_the_field(
    load_bpf: LoadFn, layout: ProgInfoLayout
) -> None:
    """bpf_prog_get_info_by_fd() zero-checks the caller's buffer past xdp_features (not
    past attach_btf_id as in 6.12): input in the field is overwritten, input after the
    kernel's struct is E2BIG."""
    fd = load_bpf("xdp_redirect").prog_fd("xdp_redirect")
    info = prog_info(fd, buf_len=layout.size, poke={layout.xdp_features_offset: 0xFF})
    (value,) = struct.unpack_from("I", info, layout.xdp_features_offset)
    assert value == BASIC | REDIRECT, (
        f"with 0xff in the field on input, bpf_prog_info.xdp_features reads {describe(value)}"
    )
    bpf_refused(
        lambda: prog_info(fd, buf_len=layout.size + 8, poke={layout.size: 1}),
        errno.E2BIG,
        "bpf_prog_info with a nonzero byte after the kernel's struct",
    )


@each_case
def test_bpftool_plain_shows_needed_features(
    load_bpf: LoadFn, bpftool: BpftoolFn, case: Case
) -> None:
    prog_id = bpfobj.prog_id(_prog_fd(load_bpf, case))
    out = bpftool("prog", "show", "id", str(prog_id))
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith("xdp_features")]
    expected = [" ".join(["xdp_features", *feature_names(case.features)])] if case.features else []
    assert lines == expected, (
        f"{case.prog} ({describe(case.features)}): expected xdp_features lines {expected} "
        f"in 'bpftool prog show id {prog_id}', got {lines}:\n{out}"
    )


@each_case
def test_bpftool_json_shows_needed_features(
    load_bpf: LoadFn, bpftool: BpftoolFn, case: Case
) -> None:
    prog_id = bpfobj.prog_id(_prog_fd(load_bpf, case))
    shown = json.loads(bpftool("--json", "prog", "show", "id", str(prog_id)))
    assert shown.get("id") == prog_id, f"bpftool showed another program: {shown}"
    if case.features:
        assert shown.get("xdp_features") == feature_names(case.features), (
            f'{case.prog}: expected "xdp_features": {feature_names(case.features)}, '
            f"got {shown.get('xdp_features')!r}"
        )
    else:
        assert "xdp_features" not in shown, (
            f"{case.prog} needs no XDP feature: bpftool should print no xdp_features key, "
            f"got {shown['xdp_features']!r}"
        )


@pytest.mark.parametrize("stem", ["xdp_redirect_dead", "xdp_redirect_maybe"])
def test_guarded_redirect_call_is_in_the_object(suite: str, stem: str) -> None:
    """The compiler kept the guarded call: only the verifier can tell the two apart."""
    code = elf_section(bpfobj.object_path(suite, stem), "xdp")
    calls = helper_calls(code)
    assert BPF_FUNC_REDIRECT_MAP in calls, (
        f"{stem}.bpf.o should contain a call to bpf_redirect_map "
        f"(helper {BPF_FUNC_REDIRECT_MAP}); helper calls found: {calls}"
    )
