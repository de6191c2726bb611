"""The minimal test_progs: the tree read, tests.h, command lines, the build's steps (fake)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from harness import bpf_selftests as bs
from harness import bpf_selftests_commands as cmds
from harness import bpf_selftests_scan as scan
from harness.errors import ExitCode, InfraError, UsageError
from harness.runner import Runner
from harness.testprogs import Entry, read_manifest

PROG_TEST = """\
// SPDX-License-Identifier: GPL-2.0
#include <test_progs.h>
#include "demo.skel.h"
#include "linked.skel.h"
/* #include "old.skel.h" */

static void helper(void) { }

void test_demo(void)
{
	struct demo *skel = demo__open_and_load();

	if (test__start_subtest("first"))
		helper();
	// if (test__start_subtest("commented_out"))
	if (test__start_subtest("second"))
		helper();
	if (test__start_subtest("first"))
		helper();
	bpf_object__open_file("./runtime.bpf.o", NULL);
	bpf_object__open_file("missing.bpf.o", NULL);
}

void serial_test_demo_serial(void)
{
}
"""

MAKEFILE = (
    "TRUNNER_EXTRA_SOURCES := test_progs.c\t\t\\\n"
    "\t\t\t testing_helpers.c\t\\\n"
    "\t\t\t json_writer.c \t\t\\\n"
    "\t\t\t flow_dissector_load.h\n"
    "test_maps: TRUNNER_EXTRA_SOURCES := test_maps.c\n"
    "linked.skel.h-deps := linked1.bpf.o linked2.bpf.o\n"
    "progs/demo.c-CFLAGS := -fno-strict-aliasing\n"
    "jit_disasm_helpers.c-CFLAGS = $(LLVM_CFLAGS)\n"
)

CLANG_V = """\
clang version 19.1.7
#include "..." search starts here:
#include <...> search starts here:
 /usr/lib/llvm-19/lib/clang/19/include
 /usr/local/include
 /usr/include
End of search list.
"""


# -- reading the tree -----------------------------------------------------------------------


def test_define_tests_as_the_makefile_finds_them() -> None:
    assert scan.define_tests(PROG_TEST) == ["demo", "demo_serial"]
    assert scan.define_tests("static void test_x(void)\nvoid test_y(int a)\n") == []


def test_tests_header_sorted_like_the_makefile() -> None:
    assert scan.tests_header(["xdp_features", "atomics"]) == (
        "/* Generated header, do not edit */\nDEFINE_TEST(atomics)\nDEFINE_TEST(xdp_features)\n"
    )


def test_subtests_literal_in_order_once_without_comments() -> None:
    assert scan.subtests(PROG_TEST) == (["first", "second"], False)


def test_subtests_with_a_computed_name_are_dynamic() -> None:
    text = 'if (test__start_subtest("a")) x();\nif (test__start_subtest(name)) y();\n'
    assert scan.subtests(text) == (["a"], True)


def test_skeleton_includes_of_every_kind() -> None:
    text = (
        '#include "a.skel.h"\n#include "b.lskel.h"\n# include <c.subskel.h>\n'
        '#include "a.skel.h"\n// #include "d.skel.h"\n#include "e.h"\n'
    )
    assert scan.skeleton_includes(text) == [("a", "skel"), ("b", "lskel"), ("c", "subskel")]


def test_object_references() -> None:
    assert scan.object_references(PROG_TEST) == ["runtime", "missing"]


def test_strip_comments_keeps_strings() -> None:
    assert scan.strip_comments('a /* b */ "c // d" // e\nf') == 'a   "c // d"  \nf'


def test_makefile_skeleton_deps_and_prog_cflags() -> None:
    assert scan.skeleton_deps(MAKEFILE) == {"linked": ("linked1", "linked2")}
    assert scan.prog_cflags(MAKEFILE) == {"demo": ("-fno-strict-aliasing",)}


def test_helper_sources_from_the_test_progs_runner() -> None:
    assert scan.helper_sources(MAKEFILE) == ["testing_helpers.c", "json_writer.c"]
    assert scan.helper_sources("") == list(scan.DEFAULT_HELPERS)


def test_clang_sys_includes() -> None:
    assert scan.clang_sys_includes(CLANG_V) == [
        "-idirafter",
        "/usr/lib/llvm-19/lib/clang/19/include",
        "-idirafter",
        "/usr/local/include",
        "-idirafter",
        "/usr/include",
    ]


def test_includes_vmlinux_h_through_local_headers(tmp_path: Path) -> None:
    progs = tmp_path / "progs"
    progs.mkdir()
    (tmp_path / "bpf_misc.h").write_text('#include "deeper.h"\n')
    (tmp_path / "deeper.h").write_text("#include <vmlinux.h>\n")
    (progs / "a.c").write_text('#include "bpf_misc.h"\n')
    (progs / "b.c").write_text('#include <linux/bpf.h>\n/* #include "vmlinux.h" */\n')
    (progs / "c.c").write_text('#include "c.c"\n#include "nowhere.h"\n')  # loops, missing
    assert scan.includes_vmlinux_h(progs / "a.c", [progs, tmp_path])
    assert not scan.includes_vmlinux_h(progs / "b.c", [progs, tmp_path])
    assert not scan.includes_vmlinux_h(progs / "c.c", [progs, tmp_path])


def _tree(root: Path, prog_test: str = PROG_TEST) -> Path:
    sel = root / scan.SELFTESTS
    (sel / "prog_tests").mkdir(parents=True)
    (sel / "progs").mkdir()
    (sel / "Makefile").write_text(MAKEFILE)
    for name in ("test_progs.c", "testing_helpers.c", "json_writer.c"):
        (sel / name).write_text(f"/* {name} */\n")
    (sel / "prog_tests" / "demo.c").write_text(prog_test)
    for stem in ("demo", "linked1", "linked2", "runtime"):
        (sel / "progs" / f"{stem}.c").write_text("#include <linux/bpf.h>\n")
    for d in bs.DIGEST_TREES:
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tools/lib/bpf/bpf.c").write_text("/* libbpf */\n")
    return root


def test_read_prog_test(tmp_path: Path) -> None:
    sel = _tree(tmp_path) / scan.SELFTESTS
    pt = scan.read_prog_test(sel, "demo", MAKEFILE)
    assert pt.tests == ("demo", "demo_serial")
    assert pt.subtests == ("first", "second")
    assert not pt.dynamic_subtests
    assert pt.skeletons == (
        scan.Skeleton("demo", "skel", ("demo",)),
        scan.Skeleton("linked", "skel", ("linked1", "linked2")),
    )
    assert pt.objects == ("runtime",)  # missing.bpf.o has no progs/missing.c
    assert pt.entry() == Entry("demo", ("demo", "demo_serial"), ("first", "second"))
    assert scan.bpf_objects([pt, pt]) == ["demo", "linked1", "linked2", "runtime"]


def test_read_prog_test_missing_file(tmp_path: Path) -> None:
    sel = _tree(tmp_path) / scan.SELFTESTS
    with pytest.raises(UsageError) as info:
        scan.read_prog_test(sel, "nope", MAKEFILE)
    assert "bpf-selftests lists 'nope' but the tree has no" in info.value.problem
    assert "prog_tests/nope.c" in info.value.problem


def test_read_prog_test_without_tests(tmp_path: Path) -> None:
    sel = _tree(tmp_path, "static void test_x(void) {}\n") / scan.SELFTESTS
    with pytest.raises(UsageError, match="defines no test"):
        scan.read_prog_test(sel, "demo", MAKEFILE)


def test_read_prog_test_skeleton_without_program(tmp_path: Path) -> None:
    sel = _tree(tmp_path, '#include "ghost.skel.h"\nvoid test_demo(void) {}\n') / scan.SELFTESTS
    with pytest.raises(UsageError) as info:
        scan.read_prog_test(sel, "demo", MAKEFILE)
    assert "includes ghost.skel.h but progs/ghost.c does not exist" in info.value.problem


# -- command lines --------------------------------------------------------------------------


def test_libbpf_command(tmp_path: Path) -> None:
    cmd = cmds.libbpf_command(Path("/tree"), Path("/out"))
    assert cmd[:4] == ["make", "-s", "-C", "/tree/tools/lib/bpf"]
    assert cmd[5:] == [
        "OUTPUT=/out/libbpf/",
        "DESTDIR=/out",
        "prefix=",
        "EXTRA_CFLAGS=-g -O0",
        "/out/libbpf/libbpf.a",
        "install_headers",
    ]


def test_bpf_compile_command_has_the_selftests_flags() -> None:
    flags = cmds.bpf_cflags(Path("/tree"), Path("/out"), ["-idirafter", "/usr/include"])
    cmd = cmds.bpf_compile_command(
        "clang-19", flags, ["-fno-strict-aliasing"], Path("/s/x.c"), Path("/out/x.bpf.o")
    )
    assert cmd[0] == "clang-19"
    for flag in (
        "-g",
        "-O2",
        "--target=bpf",
        "-mcpu=v3",
        "-D__TARGET_ARCH_x86",
        "-I/out/include",
        "-I/tree/tools/testing/selftests/bpf",
        "-I/tree/tools/include/uapi",
        "-fno-strict-aliasing",
    ):
        assert flag in cmd
    assert cmd[cmd.index("-idirafter") + 1] == "/usr/include"
    assert cmd[-7:] == ["-O2", "--target=bpf", "-c", "/s/x.c", "-mcpu=v3", "-o", "/out/x.bpf.o"]


@pytest.mark.parametrize(
    ("kind", "gen"),
    [
        ("skel", ["gen", "skeleton", "/o/x.skel.linked.o", "name", "x"]),
        ("lskel", ["gen", "skeleton", "-L", "/o/x.lskel.linked.o", "name", "x_lskel"]),
        ("subskel", ["gen", "subskeleton", "/o/x.subskel.linked.o", "name", "x"]),
    ],
)
def test_skeleton_commands(kind: str, gen: list[str]) -> None:
    skel = scan.Skeleton("x", kind, ("x1", "x2"))
    (s1, link, sink1), (s2, make, sink2) = cmds.skeleton_commands(
        Path("/bpftool"), skel, Path("/o")
    )
    assert link == [
        "/bpftool",
        "gen",
        "object",
        f"/o/x.{kind}.linked.o",
        "/o/x1.bpf.o",
        "/o/x2.bpf.o",
    ]
    assert sink1 is None
    assert make == ["/bpftool", *gen]
    assert sink2 == Path(f"/o/x.{kind}.h")
    assert s1.startswith(f"x.{kind}.h: ") and s2.startswith(f"x.{kind}.h: ")


def test_host_cflags_genhdr_only_with_autoconf(tmp_path: Path) -> None:
    assert "-DHAVE_GENHDR" not in cmds.host_cflags(Path("/t"), tmp_path, Path("/o"))
    (tmp_path / "include/generated").mkdir(parents=True)
    (tmp_path / "include/generated/autoconf.h").write_text("")
    flags = cmds.host_cflags(Path("/t"), tmp_path, Path("/o"))
    assert "-DHAVE_GENHDR" in flags
    assert flags.index("-I/t/tools/testing/selftests/bpf") < flags.index("-I/o/include")


def test_link_command_order() -> None:
    cmd = cmds.link_command(
        ["-g"],
        Path("/o/obj/test_progs.o"),
        [Path("/o/obj/a.test.o")],
        Path("/o/obj/h.a"),
        Path("/o"),
    )
    assert cmd == [
        "gcc",
        "-g",
        "/o/obj/test_progs.o",
        "/o/obj/a.test.o",
        "/o/obj/h.a",
        "/o/libbpf/libbpf.a",
        "-lelf",
        "-lz",
        "-lrt",
        "-lpthread",
        "-o",
        "/o/test_progs",
    ]


# -- the build, with a fake toolchain -------------------------------------------------------


class FakeToolchain(Runner):
    """Creates what each command would; fails the commands whose text contains a marker."""

    def __init__(self, fail: str | None = None, listed: str | None = None) -> None:
        super().__init__()
        self.fail = fail
        self.listed = listed
        self.commands: list[list[str]] = []

    def run(
        self,
        cmd: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        capture: bool = True,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = list(cmd)
        self.commands.append(cmd)

        def done(out: str = "", err: str = "", rc: int = 0) -> subprocess.CompletedProcess[str]:
            return subprocess.CompletedProcess(cmd, rc, out, err)

        text = " ".join(cmd)
        if self.fail and self.fail in text:
            return done(err=f"{cmd[-1]}:1:1: error: boom\nnoise\n", rc=1)
        if cmd[:2] == ["clang-19", "-v"]:
            return done(err=CLANG_V)
        if cmd[0] == "make":
            out = Path(cmd[cmd.index("install_headers") - 1])
            out.write_text("libbpf")
        elif "-o" in cmd:
            Path(cmd[cmd.index("-o") + 1]).write_text("obj")
        elif cmd[0] == "ar" or cmd[1:3] == ["gen", "object"]:
            Path(cmd[2 if cmd[0] == "ar" else 3]).write_text("archive")
        elif cmd[-1] == "--list":
            return done(out=self.listed if self.listed is not None else "demo\ndemo_serial\n")
        elif cmd[1:3] == ["gen", "skeleton"]:
            return done(out="/* skeleton */\n")
        return done()


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(bs, "find_clang", lambda: "clang-19")
    root = _tree(tmp_path / "src")
    (tmp_path / "bpftool").write_text("bpftool v1")
    (tmp_path / "build").mkdir()
    return root


def _build(tree: Path, runner: Runner, force: bool = False) -> bs.Result:
    tmp = tree.parent
    return bs.build_test_progs(
        ["demo"], tree, tmp / "build", tmp / "bpftool", runner, tmp / "log", force=force
    )


def test_build_steps_and_outputs(tree: Path) -> None:
    runner = FakeToolchain()
    res = _build(tree, runner)
    out = tree.parent / "build" / bs.OUT
    assert res.binary == out / "test_progs"
    assert not res.skipped
    assert (
        (out / "prog_tests/tests.h")
        .read_text()
        .endswith("DEFINE_TEST(demo)\nDEFINE_TEST(demo_serial)\n")
    )
    assert (out / "demo.skel.h").read_text() == "/* skeleton */\n"
    assert read_manifest(out / "tests.json") == [
        Entry("demo", ("demo", "demo_serial"), ("first", "second"))
    ]
    firsts = [c[0] if c[0] != "gcc" else f"gcc {c[c.index('-o') + 1]}" for c in runner.commands]
    assert firsts[:2] == ["clang-19", "make"]
    assert firsts.count("clang-19") == 1 + 4  # -v, then demo, linked1, linked2, runtime
    gccs = [f for f in firsts if f.startswith("gcc")]
    assert [Path(g.split()[1]).name for g in gccs] == [
        "test_progs.o",
        "demo.test.o",
        "testing_helpers.o",
        "json_writer.o",
        "test_progs",
    ]
    clang_demo = next(c for c in runner.commands if c[-1].endswith("demo.bpf.o"))
    assert "-fno-strict-aliasing" in clang_demo
    log = (tree.parent / "log").read_text()
    assert "## link test_progs\n$ gcc " in log


def test_build_skipped_when_inputs_unchanged_and_redone_when_not(tree: Path) -> None:
    _build(tree, FakeToolchain())
    again = FakeToolchain()
    res = _build(tree, again)
    assert res.skipped
    assert [c[:2] for c in again.commands] == [["clang-19", "-v"]]
    assert "not rebuilt" in (tree.parent / "log").read_text()
    assert not _build(tree, FakeToolchain(), force=True).skipped
    (tree / scan.SELFTESTS / "prog_tests/demo.c").write_text(PROG_TEST + "\n")
    assert not _build(tree, FakeToolchain()).skipped
    (tree / "tools/lib/bpf/bpf.c").write_text("/* changed */\n")
    assert not _build(tree, FakeToolchain()).skipped


def test_skipped_build_still_writes_the_manifest(tree: Path) -> None:
    _build(tree, FakeToolchain())
    manifest = tree.parent / "build" / bs.OUT / "tests.json"
    manifest.write_text('{"prog_tests": []}\n')  # as an older harness read the tree
    assert _build(tree, FakeToolchain()).skipped
    assert read_manifest(manifest) == [Entry("demo", ("demo", "demo_serial"), ("first", "second"))]


def test_failing_test_names_the_step_and_log(tree: Path) -> None:
    with pytest.raises(InfraError) as info:
        _build(tree, FakeToolchain(fail="prog_tests/demo.c"))
    err = info.value
    assert err.exit_code == ExitCode.INFRA
    assert "failed at step 'compile prog_tests/demo.c' (exit 1)" in err.problem
    assert f"log: {tree.parent / 'log'}" in err.problem
    assert "error: boom" in err.problem
    assert "noise" not in err.problem
    assert err.fix == bs.SERIES_FIX
    assert "## compile prog_tests/demo.c: exit 1" in (tree.parent / "log").read_text()
    assert not (tree.parent / "build" / bs.OUT / bs.STAMP).exists()


def test_failing_libbpf_names_the_step(tree: Path) -> None:
    with pytest.raises(InfraError, match="failed at step 'libbpf'"):
        _build(tree, FakeToolchain(fail="tools/lib/bpf"))


def test_helper_that_does_not_compile_is_left_out(tree: Path) -> None:
    runner = FakeToolchain(fail="json_writer.c")
    res = _build(tree, runner)
    assert res.binary.exists()
    ar = next(c for c in runner.commands if c[0] == "ar")
    assert not any("json_writer" in a for a in ar)
    assert "## compile json_writer.c: exit 1" in (tree.parent / "log").read_text()


def test_link_failure_names_the_helpers_left_out(tree: Path) -> None:
    class LinkFails(FakeToolchain):
        def run(self, cmd: Sequence[str], **kw: object) -> subprocess.CompletedProcess[str]:
            if cmd[-1].endswith("/test_progs") and cmd[0] == "gcc":
                return subprocess.CompletedProcess(list(cmd), 1, "", "undefined reference to `x'\n")
            return super().run(cmd, **kw)  # type: ignore[arg-type]

    with pytest.raises(InfraError) as info:
        _build(tree, LinkFails(fail="json_writer.c"))
    assert "failed at step 'link test_progs'" in info.value.problem
    assert "undefined reference to `x'" in info.value.problem
    assert "helpers that did not compile, see the log: json_writer.c" in info.value.problem


def test_binary_listing_other_tests_is_an_error(tree: Path) -> None:
    with pytest.raises(InfraError, match=r"lists the tests \['demo'\], expected"):
        _build(tree, FakeToolchain(listed="demo\n"))
