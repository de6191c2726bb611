"""compile_suites with a fake clang: what is compiled, with which includes, and errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import script

from harness import bpfprogs
from harness.errors import ExitCode, MissingDependency, UsageError
from harness.runner import Runner

# Records its arguments and writes the -o file, like clang would.
FAKE_CLANG = """\
echo "$@" >> "$(dirname "$0")/calls"
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then echo obj > "$2"; fi
  case "$1" in *broken.bpf.c)
    echo "$1:3:1: error: unknown type name 'strct'" >&2; exit 1;;
  esac
  shift
done
"""


@pytest.fixture
def clang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    fake = script(d / "clang-19", FAKE_CLANG)
    monkeypatch.setattr(bpfprogs, "find_clang", lambda: str(fake))
    return fake


def _suite(repo: Path, suite: str, progs: dict[str, str]) -> None:
    d = repo / "selftests" / suite / "progs"
    d.mkdir(parents=True)
    for name, text in progs.items():
        (d / name).write_text(text)


def test_compiles_every_program(clang: Path, harness_repo: Path, tmp_path: Path) -> None:
    _suite(harness_repo, "baseline", {"xdp_pass.bpf.c": "", "xdp_drop.bpf.c": "", "README": ""})
    (harness_repo / "selftests" / "no_progs").mkdir()
    out = tmp_path / "objs"
    wt = tmp_path / "worktree"
    objs = bpfprogs.compile_suites(harness_repo, ["baseline", "no_progs"], wt, out, Runner())
    assert objs == [out / "baseline" / "xdp_drop.bpf.o", out / "baseline" / "xdp_pass.bpf.o"]
    assert all(o.read_text() == "obj\n" for o in objs)
    calls = (clang.parent / "calls").read_text().splitlines()
    assert len(calls) == 2
    args = calls[0].split()
    assert args[args.index("-target") + 1] == "bpf"
    includes = [a for a in args if a.startswith("-I")]
    assert includes[0] == f"-I{wt / 'tools/include/uapi'}"  # the series' UAPI comes first
    assert f"-I{harness_repo / 'selftests/include'}" in includes
    assert "-Werror" in args


def test_compile_error_names_program_and_compiler_output(
    clang: Path, harness_repo: Path, tmp_path: Path
) -> None:
    _suite(harness_repo, "xdp_meta", {"broken.bpf.c": "strct x;\n"})
    with pytest.raises(UsageError) as info:
        bpfprogs.compile_suites(harness_repo, ["xdp_meta"], tmp_path, tmp_path / "o", Runner())
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert err.problem.startswith(
        "BPF program selftests/xdp_meta/progs/broken.bpf.c does not compile:\n"
    )
    assert "error: unknown type name 'strct'" in err.problem
    assert err.fix is not None
    assert "commands.sh" in err.fix


def test_no_clang(monkeypatch: pytest.MonkeyPatch, harness_repo: Path, tmp_path: Path) -> None:
    monkeypatch.setattr(bpfprogs, "find_clang", lambda: None)
    _suite(harness_repo, "baseline", {"xdp_pass.bpf.c": ""})
    with pytest.raises(MissingDependency) as info:
        bpfprogs.compile_suites(harness_repo, ["baseline"], tmp_path, tmp_path / "o", Runner())
    assert info.value.missing == {"clang-19": "clang-19"}


def test_suites_without_programs_need_no_clang(
    monkeypatch: pytest.MonkeyPatch, harness_repo: Path, tmp_path: Path
) -> None:
    # The host check says what is missing up front; nothing to compile needs nothing.
    monkeypatch.setattr(bpfprogs, "find_clang", lambda: None)
    (harness_repo / "selftests" / "baseline" / "progs").mkdir(parents=True)
    objs = bpfprogs.compile_suites(harness_repo, ["baseline"], tmp_path, tmp_path / "o", Runner())
    assert objs == []


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    bpfprogs.find_clang() is None or shutil.which("readelf") is None,
    reason="clang-19 or readelf not installed (apt-get install clang-19 binutils)",
)
def test_the_real_clang_compiles_the_baseline_programs(tmp_path: Path) -> None:
    """The real compiler on this repository's baseline programs: eBPF objects (ELF
    machine EM_BPF) with their XDP section, built against the host's headers where a
    kernel tree's tools/include/uapi would come first."""
    objs = bpfprogs.compile_suites(REPO, ["baseline"], tmp_path / "tree", tmp_path / "o", Runner())
    names = sorted(p.name for p in (REPO / "selftests/baseline/progs").glob("*.bpf.c"))
    assert [o.name for o in objs] == [n.removesuffix(".c") + ".o" for n in names]
    for obj in objs:
        data = obj.read_bytes()
        assert data[:4] == b"\x7fELF"
        assert int.from_bytes(data[18:20], "little") == 247  # e_machine: EM_BPF
    sections = subprocess.run(
        ["readelf", "-W", "-S", str(tmp_path / "o/baseline/xdp_pass.bpf.o")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"\]\s+xdp\s", sections), sections  # the program's section
