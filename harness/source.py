"""The base kernel source: Debian's linux-source-6.12 or a user's git tree.

Either way it ends up as a commit in a git repository in the cache, from which a
worktree per series stack is made, so runs never disturb one another or the
user's own tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfraError, UsageError
from harness.paths import CacheLayout
from harness.runner import Runner
from harness.ui import progress, warn

DEBIAN_PACKAGE = "linux-source-6.12"
DEBIAN_TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
# Fixed identity and dates: importing the same tarball twice gives the same commit.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "xdp-harness",
    "GIT_AUTHOR_EMAIL": "harness@localhost",
    "GIT_COMMITTER_NAME": "xdp-harness",
    "GIT_COMMITTER_EMAIL": "harness@localhost",
}
_FIXED_DATE = {
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class KernelSource:
    repo: Path  # git repository holding the base commit
    commit: str
    version: str  # e.g. "6.12.117"
    origin: str  # human readable: where the source came from
    source_id: str  # "debian" or "tree-<hash>": keeps worktrees of different sources apart


def makefile_version(text: str) -> str:
    """'6.12.117' from the top-level Makefile's VERSION/PATCHLEVEL/SUBLEVEL/EXTRAVERSION."""
    fields: dict[str, str] = {}
    for line in text.splitlines()[:20]:
        m = re.match(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=\s*(\S*)", line)
        if m:
            fields[m.group(1)] = m.group(2)
    if "VERSION" not in fields or "PATCHLEVEL" not in fields:
        raise UsageError("not a Linux kernel Makefile (no VERSION/PATCHLEVEL)")
    ver = f"{fields['VERSION']}.{fields['PATCHLEVEL']}"
    if fields.get("SUBLEVEL", "0") not in ("", "0"):
        ver += f".{fields['SUBLEVEL']}"
    return ver + fields.get("EXTRAVERSION", "")


def _dpkg_version(runner: Runner, package: str) -> str | None:
    proc = runner.run(["dpkg-query", "-W", "-f=${Version}", package], check=False)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def _install_debian_source(runner: Runner) -> None:
    fix = f"sudo apt-get install -y {DEBIAN_PACKAGE}   (or pass --kernel-tree PATH)"
    if os.geteuid() != 0:
        raise InfraError(
            f"{DEBIAN_TARBALL} not found: package {DEBIAN_PACKAGE} is not installed", fix
        )
    progress(f"source: installing {DEBIAN_PACKAGE} (apt-get)")
    proc = runner.run(
        ["apt-get", "install", "-y", "--no-install-recommends", DEBIAN_PACKAGE],
        env={"DEBIAN_FRONTEND": "noninteractive"},
        check=False,
    )
    if proc.returncode != 0 or not DEBIAN_TARBALL.exists():
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-5:])
        raise InfraError(f"could not install {DEBIAN_PACKAGE}:\n{tail}", fix)


def debian_source(
    cache: CacheLayout, runner: Runner, tarball: Path = DEBIAN_TARBALL
) -> KernelSource:
    """Unpack Debian's tarball once and commit it; a newer tarball becomes a new commit."""
    if not tarball.exists():
        _install_debian_source(runner)
    deb_version = _dpkg_version(runner, DEBIAN_PACKAGE) or "unknown"
    repo = cache.debian_repo
    stamp_file = repo.parent / "linux.imported.json"
    exists = (repo / "HEAD").exists()
    st = tarball.stat()
    stamp = {"tarball": str(tarball), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if stamp_file.exists() and exists:
        recorded = json.loads(stamp_file.read_text())
        if recorded.get("stamp") == stamp:
            return KernelSource(
                repo=repo,
                commit=recorded["commit"],
                version=recorded["version"],
                origin=f"Debian {DEBIAN_PACKAGE} {recorded['deb_version']}",
                source_id="debian",
            )
    progress(f"source: unpacking {tarball} (Debian {deb_version}) into {repo} (once)")
    repo.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=repo.parent, prefix="unpack-") as tmp:
        runner.run(["tar", "-C", tmp, "--strip-components=1", "-xf", str(tarball)])
        version = makefile_version((Path(tmp) / "Makefile").read_text())
        if not exists:
            runner.run(["git", "init", "-q", "--bare", "-b", "base", str(repo)])
            # No auto gc: repacking ~90k fresh objects would cost minutes for nothing.
            runner.git(repo, "config", "gc.auto", "0")
        env = {
            "GIT_DIR": str(repo),
            "GIT_WORK_TREE": tmp,
            **GIT_IDENTITY,
            **_FIXED_DATE,
        }
        # -f: Debian's top-level .gitignore ignores everything; we want the tarball exactly.
        runner.run(["git", "add", "-A", "-f"], cwd=Path(tmp), env=env)
        msg = f"Linux {version} (Debian {DEBIAN_PACKAGE} {deb_version})"
        parent = runner.git(repo, "rev-parse", "-q", "--verify", "base", check=False)
        tree = runner.run(["git", "write-tree"], cwd=Path(tmp), env=env).stdout.strip()
        if parent and runner.git(repo, "rev-parse", f"{parent}^{{tree}}") == tree:
            commit = parent  # the same source imported again
        else:
            cmd = ["git", "commit-tree", tree, "-m", msg, *(["-p", parent] if parent else [])]
            commit = runner.run(cmd, cwd=Path(tmp), env=env).stdout.strip()
            runner.git(repo, "update-ref", "refs/heads/base", commit)
        (repo / "index").unlink(missing_ok=True)
        runner.git(repo, "tag", "-f", f"debian/{deb_version.replace('~', '_')}", commit)
    stamp_file.write_text(
        json.dumps(
            {"stamp": stamp, "commit": commit, "version": version, "deb_version": deb_version},
            indent=2,
        )
    )
    return KernelSource(repo, commit, version, f"Debian {DEBIAN_PACKAGE} {deb_version}", "debian")


def tree_source(path: Path, cache: CacheLayout, runner: Runner) -> KernelSource:
    """Any kernel git tree: its committed HEAD, mirrored into the cache (objects shared)."""
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise UsageError(f"--kernel-tree {path}: no such directory")
    if runner.run(["git", "-C", str(path), "rev-parse", "--git-dir"], check=False).returncode:
        raise UsageError(
            f"--kernel-tree {path}: not a git tree", "pass the top of a kernel git checkout"
        )
    head = runner.git(path, "rev-parse", "HEAD")
    try:
        version = makefile_version(runner.git(path, "show", "HEAD:Makefile"))
    except (InfraError, UsageError) as exc:
        raise UsageError(f"--kernel-tree {path}: HEAD has no kernel Makefile") from exc
    dirty = runner.git(path, "status", "--porcelain", "--untracked-files=no")
    if dirty:
        warn(f"{path} has uncommitted changes; only its HEAD {head[:12]} is used")
    source_id = source_id_for(path)
    mirror = cache.trees / f"{source_id}.git"
    if not mirror.exists():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        runner.run(["git", "clone", "-q", "--bare", "--shared", str(path), str(mirror)])
    runner.run(
        ["git", "--git-dir", str(mirror), "fetch", "-q", str(path), "+HEAD:refs/harness/head"]
    )
    head = runner.run(
        ["git", "--git-dir", str(mirror), "rev-parse", "refs/harness/head"]
    ).stdout.strip()
    return KernelSource(mirror, head, version, f"git tree {path} at {head[:12]}", source_id)


def source_id_for(kernel_tree: Path | None) -> str:
    """The id a base is cached under, known without importing it: ``debian`` for
    Debian's linux-source, one per --kernel-tree path."""
    if kernel_tree is None:
        return "debian"
    return "tree-" + hashlib.sha1(str(kernel_tree).encode()).hexdigest()[:10]


def remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
