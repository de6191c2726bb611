"""The tools built from the tree under test: bpftool with no JIT disassembler, so that
it runs in a guest image whose libraries are not the host's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import kerneltools
from harness.runner import Runner
from tests.helpers import script

# make: records its arguments, then "links" OUTPUT/bpftool
FAKE_MAKE = (
    'echo "$@" >> "$ARGS_LOG"\n'
    'for a in "$@"; do case "$a" in OUTPUT=*) out=${a#OUTPUT=};; esac; done\n'
    'echo bin > "${out}bpftool"\n'
)


@pytest.fixture
def fake_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script(bindir / "make", FAKE_MAKE)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    log = tmp_path / "make-args"
    monkeypatch.setenv("ARGS_LOG", str(log))
    return log


def test_bpftool_is_built_without_a_disassembler(tmp_path: Path, fake_make: Path) -> None:
    binary = kerneltools.build_bpftool(
        tmp_path / "src", tmp_path / "build", Runner(), tmp_path / "log"
    )
    assert binary == tmp_path / "build/tools/bpftool/bpftool"
    words = fake_make.read_text().split()
    for flag in ("feature-llvm=0", "feature-libbfd=0", "feature-libbfd-liberty-z=0"):
        assert flag in words


def test_a_bpftool_built_with_other_flags_is_built_again(tmp_path: Path, fake_make: Path) -> None:
    """One built before (an LLVM-linked binary, no flags stamp): its objects go, so the
    Makefile, which relinks on changed objects only, links it anew."""
    out = tmp_path / "build/tools/bpftool"
    out.mkdir(parents=True)
    (out / "main.o").write_text("old object")
    kerneltools.build_bpftool(tmp_path / "src", tmp_path / "build", Runner(), tmp_path / "log")
    assert not (out / "main.o").exists()
    (out / "main.o").write_text("this build's object")
    kerneltools.build_bpftool(tmp_path / "src", tmp_path / "build", Runner(), tmp_path / "log")
    assert (out / "main.o").read_text() == "this build's object"  # same flags: kept
