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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import testprogs
from harness.bpf_selftests_commands import (
    BINARY,
    bpf_cflags,
    bpf_compile_command,
    host_cflags,
    libbpf_command,
    link_command,
    skeleton_commands,
)
from harness.bpf_selftests_scan import (
    SELFTESTS,
    ProgTest,
    bpf_objects,
    clang_sys_includes,
    helper_sources,
    includes_vmlinux_h,
    prog_cflags,
    read_prog_test,
    tests_header,
)
from harness.errors import InfraError, MissingDependency
from harness.hostdeps import find_clang
from harness.runner import Runner

OUT = "tools/test_progs"  # under the stack's build dir
STAMP = ".harness-test-progs.json"
RECIPE = 1  # bump when the steps below change in a way the digest cannot see
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


@dataclass(frozen=True)
class Result:
    binary: Path
    prog_tests: tuple[ProgTest, ...]
    log: Path
    skipped: bool  # inputs unchanged since the last build
    seconds: float


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
