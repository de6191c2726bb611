"""Reading the kernel's BPF selftests (pure): which tests, subtests, skeletons and BPF
objects a listed prog_tests/<name>.c needs, from its source and the selftests'
Makefile. harness.bpf_selftests builds test_progs from what this finds."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import subtest_names, testprogs
from harness.errors import UsageError

SELFTESTS = "tools/testing/selftests/bpf"

# test_progs' helpers, when the Makefile's TRUNNER_EXTRA_SOURCES cannot be read
DEFAULT_HELPERS = (
    "cgroup_helpers.c",
    "trace_helpers.c",
    "network_helpers.c",
    "testing_helpers.c",
    "btf_helpers.c",
    "cap_helpers.c",
    "unpriv_helpers.c",
    "netlink_helpers.c",
    "jit_disasm_helpers.c",
    "test_loader.c",
    "xsk.c",
    "disasm.c",
    "disasm_helpers.c",
    "json_writer.c",
)
_DEFINE_TEST_RE = re.compile(r"^void (?:serial_)?test_([a-zA-Z0-9_]+)\((?:void)?\).*$", re.M)
_SKEL_RE = re.compile(r'^\s*#\s*include\s+[<"]([A-Za-z0-9_]+)\.(skel|lskel|subskel)\.h[">]', re.M)
_OBJ_REF_RE = re.compile(r'"(?:\./)?([A-Za-z0-9_-]+)\.bpf\.o"')
_QUOTED_INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
_VMLINUX_RE = re.compile(r'^\s*#\s*include\s+[<"]vmlinux\.h[">]', re.M)
_COMMENT_RE = re.compile(r'("(?:\\.|[^"\\])*")|/\*.*?\*/|//[^\n]*', re.S)


@dataclass(frozen=True)
class Skeleton:
    """A skeleton header a test includes, and the BPF objects linked into it."""

    base: str  # <base>.skel.h / <base>.lskel.h / <base>.subskel.h
    kind: str  # skel | lskel | subskel
    objects: tuple[str, ...]  # progs/<stem>.c for each stem

    @property
    def header(self) -> str:
        return f"{self.base}.{self.kind}.h"

    @property
    def name(self) -> str:
        """The skeleton's C name (what `bpftool gen skeleton ... name` gets)."""
        return f"{self.base}_lskel" if self.kind == "lskel" else self.base


@dataclass(frozen=True)
class ProgTest:
    """One listed prog_tests/<name>.c, as read from the tree."""

    name: str
    source: Path
    tests: tuple[str, ...]
    subtests: tuple[str, ...]
    dynamic_subtests: bool
    skeletons: tuple[Skeleton, ...]
    objects: tuple[str, ...]  # .bpf.o files it opens by name at run time (stems)

    def entry(self) -> testprogs.Entry:
        return testprogs.Entry(self.name, self.tests, self.subtests, self.dynamic_subtests)


def strip_comments(text: str) -> str:
    """C source without comments (string literals kept, so "//" in one survives)."""
    return _COMMENT_RE.sub(lambda m: m.group(1) or " ", text)


def define_tests(text: str) -> list[str]:
    """The tests a prog_tests file defines, as the selftests Makefile finds them."""
    return _DEFINE_TEST_RE.findall(text)


def tests_header(tests: Iterable[str]) -> str:
    """prog_tests/tests.h for these tests only (the Makefile's, sorted the same way)."""
    lines = sorted(f"DEFINE_TEST({t})" for t in tests)
    return "/* Generated header, do not edit */\n" + "".join(f"{ln}\n" for ln in lines)


def subtests(text: str) -> tuple[list[str], bool]:
    """The test__start_subtest() names in call order, each once (literals, and names
    read from a static table the call indexes: see harness.subtest_names), and whether
    some call's name is computed in a way the source does not tell."""
    return subtest_names.find(strip_comments(text))


def skeleton_includes(text: str) -> list[tuple[str, str]]:
    """(base, kind) of every skeleton header included: "x.skel.h" -> ("x", "skel")."""
    found: list[tuple[str, str]] = []
    for base, kind in _SKEL_RE.findall(strip_comments(text)):
        if (base, kind) not in found:
            found.append((base, kind))
    return found


def object_references(text: str) -> list[str]:
    """Stems of the "<stem>.bpf.o" files a test opens by name."""
    found: list[str] = []
    for stem in _OBJ_REF_RE.findall(strip_comments(text)):
        if stem not in found:
            found.append(stem)
    return found


def _makefile_assignments(makefile: str) -> list[tuple[str, str]]:
    """(variable, value) of every `VAR := value` / `VAR = value`, continuations joined."""
    joined = re.sub(r"\\\n", " ", makefile)
    out = []
    for line in joined.splitlines():
        m = re.match(r"^([^\s:=#]+)\s*:?=\s*(.*)$", line)
        if m:
            out.append((m.group(1), m.group(2).split("#", 1)[0].strip()))
    return out


def skeleton_deps(makefile: str) -> dict[str, tuple[str, ...]]:
    """Linked skeletons of the selftests Makefile: "<x>.skel.h-deps := a.bpf.o b.bpf.o"
    -> {"x": ("a", "b")}."""
    deps: dict[str, tuple[str, ...]] = {}
    for var, value in _makefile_assignments(makefile):
        if var.endswith(".skel.h-deps"):
            deps[var.removesuffix(".skel.h-deps")] = tuple(
                o.removesuffix(".bpf.o") for o in value.split() if o.endswith(".bpf.o")
            )
    return deps


def prog_cflags(makefile: str) -> dict[str, tuple[str, ...]]:
    """Per-program extra flags: "progs/x.c-CFLAGS := -fno-strict-aliasing" -> {"x": (...)}."""
    flags: dict[str, tuple[str, ...]] = {}
    for var, value in _makefile_assignments(makefile):
        m = re.fullmatch(r"progs/([A-Za-z0-9_-]+)\.c-CFLAGS", var)
        if m and "$" not in value:
            flags[m.group(1)] = tuple(value.split())
    return flags


def helper_sources(makefile: str) -> list[str]:
    """test_progs' helper .c files (TRUNNER_EXTRA_SOURCES of the test_progs runner,
    without test_progs.c); the built-in list when the Makefile has none."""
    for var, value in _makefile_assignments(makefile):
        words = value.split()
        if var == "TRUNNER_EXTRA_SOURCES" and words[:1] == ["test_progs.c"]:
            return [w for w in words[1:] if w.endswith(".c")]
    return list(DEFAULT_HELPERS)


def clang_sys_includes(clang_verbose: str) -> list[str]:
    """-idirafter for each of clang's default include directories (what the selftests'
    get_sys_includes does: --target=bpf would not search them otherwise)."""
    flags: list[str] = []
    inside = False
    for line in clang_verbose.splitlines():
        if line.startswith("#include <...> search starts here:"):
            inside = True
        elif line.startswith("End of search list."):
            inside = False
        elif inside and line.startswith(" /"):
            flags += ["-idirafter", line.strip()]
    return flags


def includes_vmlinux_h(source: Path, search: Sequence[Path]) -> bool:
    """Whether source, or a header it includes with "..." (found in its own directory or
    search), includes vmlinux.h."""
    seen: set[Path] = set()
    todo = [source]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        text = strip_comments(path.read_text(errors="replace"))
        if _VMLINUX_RE.search(text):
            return True
        for inc in _QUOTED_INCLUDE_RE.findall(text):
            for d in (path.parent, *search):
                if (d / inc).is_file():
                    todo.append(d / inc)
                    break
    return False


def read_prog_test(selftests: Path, name: str, makefile: str) -> ProgTest:
    source = selftests / "prog_tests" / f"{name}.c"
    if not source.is_file():
        raise UsageError(
            f"bpf-selftests lists {name!r} but the tree has no {SELFTESTS}/prog_tests/{name}.c",
            "fix the name in series.toml, or add the test in the series",
        )
    text = source.read_text(errors="replace")
    tests = define_tests(text)
    if not tests:
        raise UsageError(
            f"{SELFTESTS}/prog_tests/{name}.c defines no test: test_progs runs functions "
            "`void test_<name>(void)` or `void serial_test_<name>(void)`"
        )
    deps = skeleton_deps(makefile)
    skels = tuple(
        Skeleton(base, kind, deps.get(base, (base,)) if kind != "lskel" else (base,))
        for base, kind in skeleton_includes(text)
    )
    progs = selftests / "progs"
    for skel in skels:
        for stem in skel.objects:
            if not (progs / f"{stem}.c").is_file():
                raise UsageError(
                    f"{SELFTESTS}/prog_tests/{name}.c includes {skel.header} but "
                    f"progs/{stem}.c does not exist"
                )
    names, dynamic = subtests(text)
    return ProgTest(
        name=name,
        source=source,
        tests=tuple(tests),
        subtests=tuple(names),
        dynamic_subtests=dynamic,
        skeletons=skels,
        objects=tuple(s for s in object_references(text) if (progs / f"{s}.c").is_file()),
    )


def bpf_objects(prog_tests: Iterable[ProgTest]) -> list[str]:
    """Every BPF program the tests need, each once (progs/<stem>.c -> <stem>.bpf.o)."""
    stems: list[str] = []
    for pt in prog_tests:
        for stem in [*(o for s in pt.skeletons for o in s.objects), *pt.objects]:
            if stem not in stems:
                stems.append(stem)
    return stems
