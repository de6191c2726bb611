"""Configure and build the kernel out of tree (O=), with ccache, incrementally."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BrokenBuild, HarnessError, InfraError
from harness.kconfig import (
    MergedConfig,
    check_config,
    config_hash,
    dropped_error,
    merge_fragments,
    parse_config,
)
from harness.paths import CacheLayout
from harness.progress import StepProgress
from harness.runner import Runner
from harness.shards import host_cpus

# Steps of a cold build of base.config, measured; replaced by the last real count.
DEFAULT_STEPS = 1750
_STEP_RE = re.compile(r"^  ([A-Z][A-Z0-9_-]{1,10}) +(\S.*)$")
STAMP = ".harness-build.json"
CONFIG_STAMP = ".harness-config.json"
STEPS = ".harness-steps"

# A build that fails with these is the machine's fault, whatever else the log says.
_INFRA_MARKERS = (
    "No space left on device",
    "Killed signal terminated program",  # gcc's cc1 killed (OOM)
    "internal compiler error",
    "Cannot allocate memory",
    "virtual memory exhausted",
    "ccache: error:",
    "Segmentation fault",
    "Bus error",
)
# ... and with these (and none of the above) the code's: a compiler or linker diagnostic.
_CODE_ERROR_RE = re.compile(
    r"^\S+:\d+(?::\d+)?: (?:fatal )?error: "  # gcc/clang: file:line:col: error:
    r"|undefined reference to "
    r"|: multiple definition of "
    r"|^ERROR: modpost: "
    r"|\*\*\* No rule to make target |\*\*\* missing separator"  # a broken Kbuild file
    r"|^(?:\S*/)?(?:[\w-]+-)?ld(?:\.\w+)?: .*(?:undefined symbol|error)",  # ld, ld.lld
    re.M,
)


@dataclass(frozen=True)
class ConfigResult:
    dotconfig: Path
    hash: str
    overrides: list[str]


@dataclass(frozen=True)
class BuildResult:
    bzimage: Path
    vmlinux: Path
    log: Path
    skipped: bool  # nothing changed since the last build
    steps: int


def bzimage_of(build_dir: Path) -> Path:
    """The kernel image ``make bzImage`` leaves in an x86 build directory."""
    return build_dir / "arch/x86/boot/bzImage"


def jobs() -> int:
    """make's -j: the CPUs this process may use, and one more."""
    return host_cpus() + 1


def make_env(cache: CacheLayout) -> dict[str, str]:
    return {
        "CCACHE_DIR": str(cache.ccache),
        "CCACHE_BASEDIR": str(cache.root),
        # Every stack builds ../src from its build dir (see CacheLayout): with the
        # base dir stripped and the cwd not hashed, stacks share cache hits.
        "CCACHE_NOHASHDIR": "1",
        "CCACHE_COMPILERCHECK": "content",
        # Depend mode: a miss compiles once, taking the headers from the compiler's
        # -MMD file (kbuild passes -Wp,-MMD; with -nostdinc every header is in it;
        # probes without one fall back to the normal mode), instead of running the
        # preprocessor first to hash its output. Measured on this config's net/ and
        # kernel/ (440 compiles, -j3, 2 cores): no ccache 191 s, empty cache 286 s by
        # default, 200 s in depend mode; a warm cache hits in direct mode either way.
        "CCACHE_DEPEND": "1",
        "KBUILD_BUILD_USER": "harness",
        "KBUILD_BUILD_HOST": "harness",
    }


def configure(
    worktree: Path,
    build_dir: Path,
    fragments: list[Path],
    runner: Runner,
    head: str | None = None,
) -> ConfigResult:
    """allnoconfig with the merged fragments forced on (KCONFIG_ALLCONFIG), then check.

    With the commit given, configuring is skipped when neither the commit (its Kconfig
    files) nor the fragments changed since the last time and .config is untouched."""
    build_dir.mkdir(parents=True, exist_ok=True)
    merged = merge_fragments(fragments)
    merged_path = build_dir / "harness.config"
    merged_path.write_text(merged.text)
    dotconfig = build_dir / ".config"
    stamp_path = build_dir / CONFIG_STAMP
    wanted = {"head": head, "fragments": _digest(merged.text)}
    if head is not None and dotconfig.exists() and stamp_path.exists():
        old = json.loads(stamp_path.read_text())
        if old.get("stamp") == wanted and old.get("config") == config_hash(dotconfig):
            return _checked(merged, dotconfig, worktree)
    stamp_path.unlink(missing_ok=True)
    proc = runner.run(
        ["make", "-s", f"O={build_dir}", f"KCONFIG_ALLCONFIG={merged_path}", "allnoconfig"],
        cwd=worktree,
        check=False,
    )
    if proc.returncode != 0:
        raise InfraError(f"kernel configuration failed:\n{(proc.stderr or proc.stdout)[-2000:]}")
    result = _checked(merged, dotconfig, worktree)
    if head is not None:
        stamp_path.write_text(json.dumps({"stamp": wanted, "config": result.hash}))
    return result


def configured_with(build_dir: Path, fragments: list[Path]) -> bool | None:
    """Whether the kernel in ``build_dir`` was configured from exactly these fragments
    (None: no record of what it was configured from)."""
    stamp_path = build_dir / CONFIG_STAMP
    if not stamp_path.exists():
        return None
    old = json.loads(stamp_path.read_text()).get("stamp", {})
    return bool(old.get("fragments") == _digest(merge_fragments(fragments).text))


def _digest(merged_text: str) -> str:
    """What the config stamp records of the merged fragments."""
    return hashlib.sha256(merged_text.encode()).hexdigest()


def _checked(merged: MergedConfig, dotconfig: Path, worktree: Path) -> ConfigResult:
    dropped = check_config(merged.symbols, parse_config(dotconfig.read_text()))
    if dropped:
        raise dropped_error(dropped, worktree, dotconfig)
    return ConfigResult(dotconfig, config_hash(dotconfig), merged.overrides)


def build(
    worktree: Path,
    build_dir: Path,
    head: str,
    cfg: ConfigResult,
    cache: CacheLayout,
    runner: Runner,
    log_path: Path,
    force: bool = False,
) -> BuildResult:
    bzimage = bzimage_of(build_dir)
    vmlinux = build_dir / "vmlinux"
    stamp_path = build_dir / STAMP
    stamp = {"head": head, "config": cfg.hash}
    if not force and bzimage.exists() and stamp_path.exists():
        old = json.loads(stamp_path.read_text())
        if old.get("stamp") == stamp and old.get("bzimage_mtime") == bzimage.stat().st_mtime_ns:
            log_path.write_text(f"build skipped: commit {head} and config {cfg.hash} unchanged\n")
            return BuildResult(bzimage, vmlinux, log_path, skipped=True, steps=0)
    cache.ccache.mkdir(parents=True, exist_ok=True)
    steps_file = build_dir / STEPS
    cold = not (build_dir / "vmlinux").exists()
    estimated = not steps_file.exists()
    total = int(steps_file.read_text()) if not estimated else DEFAULT_STEPS
    cmd = ["make", f"O={build_dir}", f"-j{jobs()}", "CC=ccache gcc", "bzImage"]
    env = make_env(cache)
    runner.log.record(cmd, worktree, env)
    steps = 0
    started = time.monotonic()
    with log_path.open("w") as log, StepProgress("build", total, estimated) as bar:
        proc = subprocess.Popen(
            cmd,
            cwd=worktree,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            m = _STEP_RE.match(line)
            if m:
                steps += 1
                bar.step(m.group(2))
        rc = proc.wait()
    if rc != 0:
        raise build_failure(rc, log_path, time.monotonic() - started)
    if not bzimage.exists():
        raise InfraError(f"make succeeded but {bzimage} is missing; log: {log_path}")
    if cold or steps > total:
        steps_file.write_text(str(steps))
    stamp_path.write_text(
        json.dumps({"stamp": stamp, "bzimage_mtime": bzimage.stat().st_mtime_ns}, indent=2)
    )
    return BuildResult(bzimage, vmlinux, log_path, skipped=False, steps=steps)


def build_failure(rc: int, log_path: Path, seconds: float) -> HarnessError:
    """Why make failed, as the error to raise. Compiler or linker errors in the log make it
    the series' (or config's) fault: BrokenBuild, exit 2. Make killed by a signal, or
    failing for the machine (disk full, OOM, a crashing compiler) or with no diagnostic
    at all: InfraError, exit 3."""
    text = log_path.read_text(errors="replace")
    errors = [ln.rstrip() for ln in text.splitlines() if "error" in ln.lower() or "Error " in ln]
    infra = [m for m in _INFRA_MARKERS if m in text]
    problem = (
        f"kernel build failed (make exit {rc}) after {seconds:.0f}s; log: {log_path}\n"
        + "\n".join(errors[-15:])
    )
    if rc < 0 or infra or not _CODE_ERROR_RE.search(text):
        why = f" ({', '.join(infra)})" if infra else ""
        return InfraError(
            problem + why,
            "the build failed without a compiler error in the code: check disk space and "
            "memory, then re-run; the build is incremental",
        )
    return BrokenBuild(
        problem,
        "fix the error in the series (or the config) and re-run; the build is incremental",
    )
