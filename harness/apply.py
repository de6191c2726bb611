"""A worktree per series stack, with the series applied by git am.

The worktree is reused when the base and the patches are unchanged, so an
unchanged series costs nothing and an edited one rebuilds only what it touches.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from harness import locks
from harness.errors import UsageError
from harness.paths import CacheLayout
from harness.runner import Runner
from harness.series import Series
from harness.source import GIT_IDENTITY, KernelSource
from harness.ui import progress


@dataclass(frozen=True)
class Worktree:
    path: Path
    head: str  # commit after all patches: the exact kernel commit tested
    reused: bool


@dataclass(frozen=True)
class ApplyFailure:
    patch: str | None  # the failing patch's subject line as git am reports it
    files: tuple[str, ...]  # files whose hunks did not apply


def parse_am_failure(output: str) -> ApplyFailure:
    """What git am said: which patch failed, and on which files."""
    patch = None
    m = re.search(r"^Patch failed at \d+ (.+)$", output, re.M)
    if m:
        patch = m.group(1).strip()
    files: list[str] = []
    for pat in (
        r"^error: patch failed: (.+?):\d+$",
        r"^error: (.+?): (?:patch does not apply|does not exist in index|already exists in index)$",
        r"^CONFLICT \(content\): Merge conflict in (.+)$",
        r"^error: sha1 information is lacking or useless \((.+)\)\.$",
    ):
        for f in re.findall(pat, output, re.M):
            if f not in files:
                files.append(f)
    return ApplyFailure(patch, tuple(files))


def series_digest(source: KernelSource, stack: list[Series]) -> str:
    h = hashlib.sha256(source.commit.encode())
    for s in stack:
        h.update(s.name.encode())
        for p in s.patches:
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _match_patch(series: Series, failure: ApplyFailure) -> Path | None:
    if failure.patch is None:
        return None
    for p in series.patches:
        if series.patch_subject(p).strip() == failure.patch:
            return p
    return None


def common_prefix(applied: list[str], wanted: list[str]) -> int:
    """How many patches, from the first, the two lists share."""
    n = 0
    for a, w in zip(applied, wanted, strict=False):
        if a != w:
            break
        n += 1
    return n


def _patch_ids(stack: list[Series]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for s in stack for p in s.patches]


def clear_stale_index_lock(path: Path, runner: Runner) -> None:
    """Remove the index.lock a git command killed in this worktree left behind.

    The caller holds the stack's lock, so no other harness process runs git here:
    a lock file is what a run interrupted in the middle of `git reset` or `git am`
    left, and every later git command would fail on it."""
    git_dir = Path(runner.git(path, "rev-parse", "--absolute-git-dir"))
    lock = git_dir / "index.lock"
    if lock.exists():
        progress(f"source: removing {lock}, left by an interrupted run")
        lock.unlink()


def prepare_worktree(
    source: KernelSource, stack: list[Series], key: str, cache: CacheLayout, runner: Runner
) -> Worktree:
    """The worktree of the stack with every patch applied.

    Reused as is when nothing changed. Otherwise the worktree goes back to the last
    commit the applied and the wanted patches share (all of them when a patch was
    appended, or check-patches steps through a series; those before it when one was
    edited; the base when the first differs) and the rest is applied. Going back no
    further than needed keeps the files of unchanged patches, and their objects in
    the build directory, as they were."""
    path = cache.worktree(key)
    state_file = cache.worktree_state(key)
    digest = series_digest(source, stack)
    wanted = _patch_ids(stack)
    registered = path.exists() and (path / ".git").exists()
    if registered:
        clear_stale_index_lock(path, runner)
    done = 0
    if registered and state_file.exists():
        state = json.loads(state_file.read_text())
        head = runner.git(path, "rev-parse", "HEAD", check=False)
        clean = not runner.git(path, "status", "--porcelain", "--untracked-files=no", check=False)
        if state.get("head") == head and clean:
            if state.get("digest") == digest:
                return Worktree(path, head, reused=True)
            applied = state.get("applied", [])
            if state.get("base") == source.commit:
                done = common_prefix(applied, wanted)
                if 0 < done < len(applied):
                    keep = runner.git(path, "rev-parse", f"HEAD~{len(applied) - done}")
                    runner.git(path, "reset", "-q", "--hard", keep)
                    runner.git(path, "clean", "-q", "-fd")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not registered:
        if path.exists():
            raise UsageError(
                f"{path} exists but is not a worktree of {source.repo}",
                f"remove it: rm -rf {path}",
            )
        progress(f"source: checking out {source.commit[:12]} into {path}")
        # prune and add change the base repository's list of worktrees: one run at a time
        with locks.held(cache.source_lock, "the base repository (another run is using it)"):
            runner.git(source.repo, "worktree", "prune")
            runner.git(source.repo, "worktree", "add", "-q", "--detach", str(path), source.commit)
    elif not done:
        runner.git(path, "am", "--abort", check=False, env=GIT_IDENTITY)
        # Only files that differ are rewritten, so make rebuilds only what changed.
        runner.git(path, "reset", "-q", "--hard", source.commit)
        runner.git(path, "clean", "-q", "-fd")
    state_file.unlink(missing_ok=True)
    seen = 0
    for series in stack:
        for warning in base_mismatch(series, source):
            progress(warning)
        todo = [p for i, p in enumerate(series.patches, seen) if i >= done]
        seen += len(series.patches)
        if not todo:
            continue
        progress(f"apply: {series.name}: {len(todo)} of {len(series.patches)} patches")
        proc = runner.run(
            [
                "git",
                "-C",
                str(path),
                "am",
                "-q",
                "-3",
                "--committer-date-is-author-date",
                *map(str, todo),
            ],
            env=GIT_IDENTITY,
            check=False,
        )
        if proc.returncode != 0:
            out = (proc.stdout or "") + (proc.stderr or "")
            failure = parse_am_failure(out)
            unmerged = runner.git(path, "diff", "--name-only", "--diff-filter=U", check=False)
            files = [*failure.files, *(f for f in unmerged.splitlines() if f not in failure.files)]
            failure = ApplyFailure(failure.patch, tuple(files))
            runner.git(path, "am", "--abort", check=False, env=GIT_IDENTITY)
            runner.git(path, "reset", "-q", "--hard", source.commit)
            raise apply_error(series, failure, source, out)
    head = runner.git(path, "rev-parse", "HEAD")
    state = {"digest": digest, "head": head, "base": source.commit, "applied": wanted}
    state_file.write_text(json.dumps(state, indent=2))
    return Worktree(path, head, reused=False)


def base_mismatch(series: Series, source: KernelSource) -> list[str]:
    if series.patches and series.base and series.base != source.version:
        return [
            f"note: series {series.name} was made on {series.base}; the source here is "
            f"{source.version} ({source.origin}); applying with git am -3"
        ]
    return []


def apply_error(
    series: Series, failure: ApplyFailure, source: KernelSource, output: str
) -> UsageError:
    patch = _match_patch(series, failure)
    what = str(patch) if patch else (failure.patch or "a patch")
    files = ", ".join(failure.files) if failure.files else "(git am named no file)"
    detail = "\n".join(output.strip().splitlines()[-8:])
    return UsageError(
        f"series {series.name}: patch {what} does not apply to {source.version} "
        f"({source.origin}); failing file(s): {files}\n{detail}",
        f"rebase the series onto {source.version} in a kernel git tree and re-export it "
        "with git format-patch",
    )
