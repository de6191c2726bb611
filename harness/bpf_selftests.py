"""A minimal test_progs built from the tree under test: only the prog_tests a series lists.

The whole of tools/testing/selftests/bpf is hundreds of BPF objects: far too long to
build on a small machine for every run. A series names the prog_tests it brings
(series.toml: ``bpf-selftests = ["xdp_features"]``) and this builds, on the host and
out of tree under <build>/tools/test_progs/, a test_progs with only those:

    libbpf      make -C tools/lib/bpf: libbpf.a, its headers in include/bpf/
    vmlinux.h   bpftool btf dump of <build>/vmlinux, only if a program includes it
    bpf         clang --target=bpf with the selftests' flags, for every program the
                tests use: their skeletons' objects and the .bpf.o files they name
    skeletons   bpftool gen object + gen skeleton (the object is embedded)
    tests.h     DEFINE_TEST lines of the listed tests only
    test_progs  test_progs.c + the tests + the selftests' helpers (an archive, so the
                linker takes only what the tests use), against libbpf.a

Every step is logged; a failure names the step and the log. The build is skipped
when the digest of its inputs (the sources, bpftool, the flags) is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import subtest_names, testprogs
from harness.build import jobs
from harness.errors import InfraError, MissingDependency, UsageError
from harness.hostdeps import find_clang
from harness.runner import Runner

SELFTESTS = "tools/testing/selftests/bpf"
OUT = "tools/test_progs"  # under the stack's build dir
BINARY = "test_progs"
STAMP = ".harness-test-progs.json"
RECIPE = 1  # bump when the steps below change in a way the digest cannot see

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
# The inputs hashed for the digest, besides the selftests' own files.
DIGEST_FILES = ("scripts/bpf_doc.py",)  # libbpf generates bpf_helper_defs.h with it
DIGEST_TREES = (
    "tools/lib/bpf",
    "tools/include",
    "tools/arch/x86/include",
    "tools/build",
    "tools/scripts",
)
SERIES_FIX = (
    "the series' kernel selftest does not build with the selftests' flags: fix it in the "
    "series (the exact commands are in the log)"
)
HOST_LIBS = ("-lelf", "-lz", "-lrt", "-lpthread")

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


@dataclass(frozen=True)
class Result:
    binary: Path
    prog_tests: tuple[ProgTest, ...]
    log: Path
    skipped: bool  # inputs unchanged since the last build
    seconds: float


# -- reading the tree (pure) ----------------------------------------------------------------


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


# -- command lines (pure) -------------------------------------------------------------------


def libbpf_command(worktree: Path, out: Path) -> list[str]:
    """libbpf.a into <out>/libbpf/, its headers into <out>/include/bpf/ (as the
    selftests Makefile does, -O0 like its default build)."""
    return [
        "make",
        "-s",
        "-C",
        str(worktree / "tools/lib/bpf"),
        f"-j{jobs()}",
        f"OUTPUT={out / 'libbpf'}/",
        f"DESTDIR={out}",
        "prefix=",
        "EXTRA_CFLAGS=-g -O0",
        f"{out / 'libbpf' / 'libbpf.a'}",
        "install_headers",
    ]


def bpf_cflags(worktree: Path, out: Path, sys_includes: Sequence[str]) -> list[str]:
    """The selftests' BPF_CFLAGS + CLANG_CFLAGS of the test_progs runner (x86, LE)."""
    return [
        "-g",
        "-Wall",
        "-Werror",
        "-D__TARGET_ARCH_x86",
        "-mlittle-endian",
        f"-I{out / 'include'}",
        f"-I{worktree / SELFTESTS}",
        f"-I{worktree / 'tools/include/uapi'}",
        "-Wno-compare-distinct-pointer-types",
        *sys_includes,
        "-DENABLE_ATOMICS_TESTS",
    ]


def bpf_compile_command(
    clang: str, cflags: Sequence[str], extra: Sequence[str], src: Path, obj: Path
) -> list[str]:
    """CLANG_BPF_BUILD_RULE of the selftests Makefile."""
    return [
        clang,
        *cflags,
        *extra,
        "-O2",
        "--target=bpf",
        "-c",
        str(src),
        "-mcpu=v3",
        "-o",
        str(obj),
    ]


def skeleton_commands(
    bpftool: Path, skel: Skeleton, out: Path
) -> list[tuple[str, list[str], Path | None]]:
    """(step, command, file its stdout goes to) for one skeleton: link its objects
    (bpftool gen object), then generate the header from the linked object."""
    linked = out / f"{skel.base}.{skel.kind}.linked.o"
    objs = [str(out / f"{o}.bpf.o") for o in skel.objects]
    gen = {
        "skel": ["gen", "skeleton", str(linked), "name", skel.name],
        "lskel": ["gen", "skeleton", "-L", str(linked), "name", skel.name],
        "subskel": ["gen", "subskeleton", str(linked), "name", skel.name],
    }[skel.kind]
    return [
        (
            f"{skel.header}: bpftool gen object",
            [str(bpftool), "gen", "object", str(linked), *objs],
            None,
        ),
        (f"{skel.header}: bpftool {' '.join(gen[:2])}", [str(bpftool), *gen], out / skel.header),
    ]


def host_cflags(worktree: Path, build_dir: Path, out: Path) -> list[str]:
    """The selftests' CFLAGS for userspace, without the optional libpcap and LLVM parts."""
    generated = build_dir / "include/generated"
    return [
        "-g",
        "-O0",
        "-rdynamic",
        "-Wall",
        "-Werror",
        "-fno-omit-frame-pointer",
        *(["-DHAVE_GENHDR"] if (generated / "autoconf.h").is_file() else []),
        f"-I{worktree / SELFTESTS}",
        f"-I{out / 'include'}",
        f"-I{generated}",
        f"-I{worktree / 'tools/lib'}",
        f"-I{worktree / 'tools/include'}",
        f"-I{worktree / 'tools/arch/x86/include'}",
        f"-I{worktree / 'tools/include/uapi'}",
        f"-I{out}",
    ]


def link_command(
    cflags: Sequence[str], main_obj: Path, test_objs: Sequence[Path], helpers: Path, out: Path
) -> list[str]:
    """test_progs.o and the tests first; the helpers as an archive, so only the members
    something references are linked in; libbpf.a static; the rest from the host."""
    return [
        "gcc",
        *cflags,
        str(main_obj),
        *map(str, test_objs),
        str(helpers),
        str(out / "libbpf" / "libbpf.a"),
        *HOST_LIBS,
        "-o",
        str(out / BINARY),
    ]


# -- the build ------------------------------------------------------------------------------


class _Steps:
    """Run the build's commands, all logged to one file; a failure names its step."""

    def __init__(self, runner: Runner, log: Path) -> None:
        self.runner = runner
        self.log_path = log
        self.log = log.open("w")

    def note(self, text: str) -> None:
        self.log.write(text.rstrip("\n") + "\n")
        self.log.flush()

    def attempt(
        self, step: str, cmd: Sequence[str], stdout: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one command, logged; its stdout goes to the file given, if any."""
        self.note(f"## {step}\n$ {shlex.join(cmd)}" + (f" > {stdout}" if stdout else ""))
        proc = self.runner.run(cmd, check=False)
        if stdout is not None and proc.returncode == 0:
            stdout.write_text(proc.stdout)
        elif proc.stdout:
            self.note(proc.stdout)
        if proc.stderr:
            self.note(proc.stderr)
        if proc.returncode != 0:
            self.note(f"## {step}: exit {proc.returncode}")
        return proc

    def run(
        self,
        step: str,
        cmd: Sequence[str],
        stdout: Path | None = None,
        hint: str = "",
        fix: str = "the commands are in the log (and in commands.sh of this run)",
    ) -> str:
        """attempt(), and an InfraError naming the step and the log if it fails."""
        proc = self.attempt(step, cmd, stdout)
        if proc.returncode != 0:
            out = (proc.stderr or proc.stdout).strip().splitlines()
            errors = [ln for ln in out if re.search(r"error|undefined reference", ln, re.I)]
            raise InfraError(
                f"building test_progs failed at step '{step}' (exit {proc.returncode}); "
                f"log: {self.log_path}\n"
                + "\n".join(dict.fromkeys((errors or out)[-15:]))
                + (f"\n{hint}" if hint else ""),
                fix,
            )
        return proc.stdout

    def close(self) -> None:
        self.log.close()


def _files(root: Path, rel: str, recursive: bool = True) -> list[Path]:
    base = root / rel
    return sorted(f for f in (base.rglob("*") if recursive else base.glob("*")) if f.is_file())


def inputs_digest(
    worktree: Path,
    build_dir: Path,
    prog_tests: Sequence[ProgTest],
    bpftool: Path,
    commands: Sequence[Sequence[str]],
    vmlinux_h: bool,
) -> str:
    """Everything the build reads: the tree's libbpf, tools headers and selftests
    sources, the tests and their programs, bpftool, the kernel's BTF if used, the flags."""
    h = hashlib.sha256()
    h.update(json.dumps({"recipe": RECIPE, "commands": list(map(list, commands))}).encode())
    files = [worktree / f for f in DIGEST_FILES if (worktree / f).is_file()]
    files += [f for rel in DIGEST_TREES for f in _files(worktree, rel)]
    files += _files(worktree, SELFTESTS, recursive=False)
    files += _files(worktree, f"{SELFTESTS}/progs", recursive=False)  # headers and programs
    for f in files:
        h.update(f"{f.relative_to(worktree)}\0".encode())
        h.update(f.read_bytes())
    for pt in prog_tests:
        h.update(f"{pt.name}\0".encode())
        h.update(pt.source.read_bytes())
    h.update(bpftool.read_bytes())
    autoconf = build_dir / "include/generated/autoconf.h"
    if autoconf.is_file():
        h.update(autoconf.read_bytes())
    if vmlinux_h:
        st = (build_dir / "vmlinux").stat()
        h.update(f"vmlinux {st.st_size} {st.st_mtime_ns}".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Plan:
    """What a build reads and runs, decided before anything is built."""

    worktree: Path
    build_dir: Path
    bpftool: Path
    clang: str
    prog_tests: tuple[ProgTest, ...]
    stems: tuple[str, ...]  # BPF programs: progs/<stem>.c -> <out>/<stem>.bpf.o
    vmlinux_h: bool
    bpf_cflags: tuple[str, ...]
    prog_cflags: dict[str, tuple[str, ...]]
    cflags: tuple[str, ...]
    helpers: tuple[str, ...]

    @property
    def selftests(self) -> Path:
        return self.worktree / SELFTESTS

    @property
    def out(self) -> Path:
        return self.build_dir / OUT

    @property
    def tests(self) -> list[str]:
        return [t for pt in self.prog_tests for t in pt.tests]

    def recipe(self) -> list[list[str]]:
        """The flags and lists that shape the build, for the digest."""
        return [
            libbpf_command(self.worktree, self.out),
            [self.clang, *self.bpf_cflags],
            list(self.cflags),
            list(self.helpers),
            *[[s, *self.prog_cflags.get(s, ())] for s in self.stems],
        ]


def plan(
    names: Sequence[str], worktree: Path, build_dir: Path, bpftool: Path, runner: Runner
) -> Plan:
    clang = find_clang()
    if clang is None:
        raise MissingDependency({"clang-19": "clang-19"})
    selftests = worktree / SELFTESTS
    makefile_path = selftests / "Makefile"
    makefile = makefile_path.read_text(errors="replace") if makefile_path.is_file() else ""
    prog_tests = tuple(read_prog_test(selftests, n, makefile) for n in names)
    stems = bpf_objects(prog_tests)
    progs = selftests / "progs"
    vmlinux_h = any(includes_vmlinux_h(progs / f"{s}.c", [progs, selftests]) for s in stems)
    if vmlinux_h and not (build_dir / "vmlinux").is_file():
        raise InfraError(
            f"a BPF program of the tests includes vmlinux.h, but {build_dir}/vmlinux is missing",
            "build the kernel first (harness build)",
        )
    out = build_dir / OUT
    verbose = runner.run([clang, "-v", "-E", "-"], check=False, input_text="")
    return Plan(
        worktree=worktree,
        build_dir=build_dir,
        bpftool=bpftool,
        clang=clang,
        prog_tests=prog_tests,
        stems=tuple(stems),
        vmlinux_h=vmlinux_h,
        bpf_cflags=tuple(bpf_cflags(worktree, out, clang_sys_includes(verbose.stderr))),
        prog_cflags=prog_cflags(makefile),
        cflags=tuple(host_cflags(worktree, build_dir, out)),
        helpers=tuple(h for h in helper_sources(makefile) if (selftests / h).is_file()),
    )


def build_test_progs(
    names: Sequence[str],
    worktree: Path,
    build_dir: Path,
    bpftool: Path,
    runner: Runner,
    log: Path,
    force: bool = False,
) -> Result:
    """<build>/tools/test_progs/test_progs with the prog_tests named, and tests.json next
    to it (each test's tests and subtests, for the guest to check)."""
    started = time.monotonic()
    p = plan(names, worktree, build_dir, bpftool, runner)
    digest = inputs_digest(worktree, build_dir, p.prog_tests, bpftool, p.recipe(), p.vmlinux_h)
    binary, stamp = p.out / BINARY, p.out / STAMP
    if not force and binary.is_file() and stamp.is_file():
        old = json.loads(stamp.read_text())
        if old.get("digest") == digest and old.get("binary_mtime") == binary.stat().st_mtime_ns:
            log.write_text(f"test_progs up to date (inputs digest {digest}): not rebuilt\n")
            # the sources did not change, but how they are read may have
            _write_manifest(p)
            return Result(binary, p.prog_tests, log, True, time.monotonic() - started)
    stamp.unlink(missing_ok=True)
    _clean(p.out)
    steps = _Steps(runner, log)
    try:
        steps.note(f"# test_progs with {', '.join(names)} from {worktree}; digest {digest}")
        _build_bpf(p, steps)
        _build_binary(p, steps)
    finally:
        steps.close()
    _write_manifest(p)
    stamp.write_text(
        json.dumps({"digest": digest, "binary_mtime": binary.stat().st_mtime_ns}, indent=2)
    )
    return Result(binary, p.prog_tests, log, False, time.monotonic() - started)


def _write_manifest(p: Plan) -> None:
    """tests.json: each prog_test's tests and subtests, as read from the tree now."""
    testprogs.write_manifest(p.out / testprogs.MANIFEST, [pt.entry() for pt in p.prog_tests])


def _clean(out: Path) -> None:
    """Everything but libbpf (its make is incremental) is built afresh."""
    if out.is_dir():
        for child in out.iterdir():
            if child.name == "libbpf":
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    for d in ("libbpf", "prog_tests", "obj"):
        (out / d).mkdir(parents=True, exist_ok=True)


def _build_bpf(p: Plan, steps: _Steps) -> None:
    """libbpf and its headers, vmlinux.h if used, the BPF objects, the skeletons."""
    out = p.out
    steps.run("libbpf", libbpf_command(p.worktree, out))
    if p.vmlinux_h:
        steps.run(
            "vmlinux.h",
            [str(p.bpftool), "btf", "dump", "file", str(p.build_dir / "vmlinux"), "format", "c"],
            stdout=out / "include" / "vmlinux.h",
        )
    for stem in p.stems:
        src = p.selftests / "progs" / f"{stem}.c"
        extra = p.prog_cflags.get(stem, ())
        steps.run(
            f"BPF program progs/{stem}.c",
            bpf_compile_command(p.clang, p.bpf_cflags, extra, src, out / f"{stem}.bpf.o"),
            fix=SERIES_FIX,
        )
    for pt in p.prog_tests:
        for skel in pt.skeletons:
            if not (out / skel.header).exists():
                for step, cmd, dest in skeleton_commands(p.bpftool, skel, out):
                    steps.run(step, cmd, stdout=dest)


def _build_binary(p: Plan, steps: _Steps) -> None:
    """tests.h, test_progs.c, the tests and the helpers compiled, linked, checked."""
    out, objdir, cflags = p.out, p.out / "obj", list(p.cflags)
    (out / "prog_tests" / "tests.h").write_text(tests_header(p.tests))
    steps.note(f"## prog_tests/tests.h: {', '.join(p.tests)}")
    main_obj = objdir / "test_progs.o"
    steps.run(
        "compile test_progs.c",
        ["gcc", *cflags, "-c", str(p.selftests / "test_progs.c"), "-o", str(main_obj)],
    )
    test_objs = []
    for pt in p.prog_tests:
        obj = objdir / f"{pt.name}.test.o"
        steps.run(
            f"compile prog_tests/{pt.name}.c",
            ["gcc", *cflags, "-c", str(pt.source), "-o", str(obj)],
            fix=SERIES_FIX,
        )
        test_objs.append(obj)
    # A helper that does not compile here is left out: an error only if the link
    # then misses it (a test uses a few helpers, rarely all).
    helper_objs, broken = [], []
    for src in p.helpers:
        obj = objdir / src.replace(".c", ".o")
        cmd = ["gcc", *cflags, "-c", str(p.selftests / src), "-o", str(obj)]
        if steps.attempt(f"compile {src}", cmd).returncode == 0:
            helper_objs.append(obj)
        else:
            broken.append(src)
    archive = objdir / "libhelpers.a"
    steps.run("archive the helpers", ["ar", "rcs", str(archive), *map(str, helper_objs)])
    steps.run(
        "link test_progs",
        link_command(cflags, main_obj, test_objs, archive, out),
        hint=f"(helpers that did not compile, see the log: {', '.join(broken)})" if broken else "",
    )
    listed = steps.run("list the tests", [str(out / BINARY), "--list"]).split()
    if sorted(listed) != sorted(p.tests):
        raise InfraError(
            f"the test_progs built lists the tests {listed}, expected {p.tests}; "
            f"log: {steps.log_path}"
        )
