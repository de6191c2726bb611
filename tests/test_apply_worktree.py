"""prepare_worktree end to end on a real git repository, and base_mismatch."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import commit_files, git, init_repo, make_series

from harness.apply import base_mismatch, common_prefix, prepare_worktree
from harness.errors import ExitCode, UsageError
from harness.paths import CacheLayout
from harness.runner import Runner
from harness.series import Series, load_series
from harness.source import KernelSource

VETH = "".join(f"veth line {i}\n" for i in range(1, 21))
MAKEFILE = "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\n"


class Tree:
    """A kernel-like source repository and a harness checkout with series made on it."""

    def __init__(self, tmp_path: Path, harness_repo: Path) -> None:
        self.src = tmp_path / "linux"
        self.repo = harness_repo
        self.base = init_repo(self.src, {"Makefile": MAKEFILE, "drivers/net/veth.c": VETH})
        self.source = KernelSource(
            repo=self.src,
            commit=self.base,
            version="6.12.117",
            origin="git tree for tests",
            source_id="tree-test",
        )
        self.cache = CacheLayout(tmp_path / "cache")

    def series(
        self, name: str, commits: list[tuple[str, dict[str, str]]], on: str | None = None
    ) -> Series:
        """Commit on top of `on` (default: the base), export with git format-patch."""
        git(self.src, "checkout", "-q", "--detach", on or self.base)
        start = git(self.src, "rev-parse", "HEAD")
        for subject, files in commits:
            commit_files(self.src, files, subject)
        d = make_series(self.repo, name)
        git(self.src, "format-patch", "-q", "-o", str(d), f"{start}..HEAD")
        git(self.src, "checkout", "-q", "main")
        return load_series(d, self.repo)

    def good(self) -> Series:
        return self.series(
            "xdp-good",
            [
                ("veth: count XDP_TX", {"drivers/net/veth.c": VETH.replace("line 3\n", "l3 tx\n")}),
                ("xdp: add a helper", {"net/core/xdp_helper.c": "int xdp_helper(void);\n"}),
            ],
        )

    def bad(self, subject: str = "veth: fix the rx path") -> Series:
        """A patch made on a tree whose line 10 differs from the base: does not apply."""
        git(self.src, "checkout", "-q", "--detach", self.base)
        other = commit_files(
            self.src, {"drivers/net/veth.c": VETH.replace("line 10\n", "line 10 rx\n")}, "rx"
        )
        return self.series(
            "xdp-bad",
            [(subject, {"drivers/net/veth.c": VETH.replace("line 10\n", "line 10 fixed\n")})],
            on=other,
        )


@pytest.fixture
def tree(tmp_path: Path, harness_repo: Path) -> Tree:
    return Tree(tmp_path, harness_repo)


def _clean(path: Path) -> bool:
    return git(path, "status", "--porcelain") == ""


def test_good_series_applied(tree: Tree) -> None:
    stack = [tree.good()]
    wt = prepare_worktree(tree.source, stack, "xdp-good", tree.cache, Runner())
    assert wt.path == tree.cache.worktree("xdp-good")
    assert not wt.reused
    assert wt.head != tree.base
    assert wt.head == git(wt.path, "rev-parse", "HEAD")
    assert git(wt.path, "log", "--format=%s", f"{tree.base}..HEAD").splitlines() == [
        "xdp: add a helper",
        "veth: count XDP_TX",
    ]
    assert "l3 tx" in (wt.path / "drivers/net/veth.c").read_text()
    assert (wt.path / "net/core/xdp_helper.c").is_file()
    assert _clean(wt.path)
    state = json.loads(tree.cache.worktree_state("xdp-good").read_text())
    assert state["head"] == wt.head
    assert len(state["digest"]) == 64


def test_unchanged_series_reuses_worktree(tree: Tree) -> None:
    stack = [tree.good()]
    first = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    runner = Runner()
    second = prepare_worktree(tree.source, stack, "k", tree.cache, runner)
    assert second.reused
    assert second.head == first.head
    assert not any(" am " in line for line in runner.log.lines)  # nothing re-applied


def test_edited_patch_is_reapplied(tree: Tree) -> None:
    stack = [tree.good()]
    first = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    patch = stack[0].patches[0]
    patch.write_text(patch.read_text().replace("veth: count XDP_TX", "veth: count XDP_TX frames"))
    second = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    assert not second.reused
    assert second.head != first.head
    assert git(second.path, "log", "--format=%s", f"{tree.base}..HEAD").splitlines() == [
        "xdp: add a helper",
        "veth: count XDP_TX frames",
    ]


def test_dirty_worktree_is_reset_and_reapplied(tree: Tree) -> None:
    stack = [tree.good()]
    first = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    (first.path / "drivers/net/veth.c").write_text("local edit\n")
    second = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    assert not second.reused
    assert _clean(second.path)
    assert "l3 tx" in (second.path / "drivers/net/veth.c").read_text()


def test_series_without_patches_is_the_base(tree: Tree) -> None:
    baseline = load_series(make_series(tree.repo, "baseline"), tree.repo)
    wt = prepare_worktree(tree.source, [baseline], "baseline", tree.cache, Runner())
    assert wt.head == tree.base


def _bad_error(tree: Tree, stack: list[Series]) -> UsageError:
    with pytest.raises(UsageError) as info:
        prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    return info.value


def test_bad_patch_is_a_usage_error_naming_the_patch(tree: Tree) -> None:
    bad = tree.bad()
    err = _bad_error(tree, [tree.good(), bad])
    assert err.exit_code == ExitCode.USAGE
    assert int(err.exit_code) == 2
    assert err.problem.startswith(
        f"series xdp-bad: patch {bad.patches[0]} does not apply to 6.12.117 (git tree for tests)"
    )
    assert err.fix is not None
    assert "rebase the series onto 6.12.117" in err.fix


def test_bad_patch_leaves_worktree_clean_at_base(tree: Tree) -> None:
    _bad_error(tree, [tree.good(), tree.bad()])
    path = tree.cache.worktree("k")
    assert git(path, "rev-parse", "HEAD") == tree.base
    assert _clean(path)
    assert not tree.cache.worktree_state("k").exists()


def test_bad_patch_leaves_no_am_in_progress(tree: Tree) -> None:
    # `git am --abort` must succeed without a git identity configured on the host
    # (CI machines have none), like the `git am` before it.
    _bad_error(tree, [tree.bad()])
    path = tree.cache.worktree("k")
    assert not Path(git(path, "rev-parse", "--git-path", "rebase-apply")).exists()


def test_worktree_recovers_after_a_bad_patch(tree: Tree) -> None:
    good = tree.good()
    _bad_error(tree, [good, tree.bad()])
    wt = prepare_worktree(tree.source, [good], "k", tree.cache, Runner())
    assert not wt.reused
    assert git(wt.path, "rev-list", "--count", f"{tree.base}..HEAD") == "2"


def test_bad_patch_error_names_the_failing_file(tree: Tree) -> None:
    err = _bad_error(tree, [tree.bad()])
    assert "failing file(s): drivers/net/veth.c" in err.problem


def test_bad_patch_with_long_subject_still_named_by_path(tree: Tree) -> None:
    subject = "veth: fix the rx path when an XDP program returns XDP_TX on a queue that has no peer"
    bad = tree.bad(subject)
    assert "\n " in bad.patches[0].read_text().split("\n\n", 1)[0]  # folded by format-patch
    err = _bad_error(tree, [bad])
    assert f"patch {bad.patches[0]} does not apply" in err.problem


def test_path_in_the_way_is_reported(tree: Tree) -> None:
    path = tree.cache.worktree("k")
    path.mkdir(parents=True)
    (path / "stray").write_text("x")
    with pytest.raises(UsageError) as info:
        prepare_worktree(tree.source, [tree.good()], "k", tree.cache, Runner())
    assert info.value.problem == f"{path} exists but is not a worktree of {tree.src}"
    assert info.value.fix == f"remove it: rm -rf {path}"


def test_base_mismatch_note(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    good = replace(tree.good(), base="6.12.100")
    assert base_mismatch(good, tree.source) == [
        "note: series xdp-good was made on 6.12.100; the source here is 6.12.117 "
        "(git tree for tests); applying with git am -3"
    ]
    prepare_worktree(tree.source, [good], "k", tree.cache, Runner())
    assert "note: series xdp-good was made on 6.12.100" in capsys.readouterr().err


def test_no_base_mismatch(tree: Tree) -> None:
    good = tree.good()
    assert base_mismatch(good, tree.source) == []  # made on 6.12.117
    assert base_mismatch(replace(good, base=None), tree.source) == []
    assert base_mismatch(replace(good, base="6.1.0", patches=()), tree.source) == []


def test_appended_patch_is_applied_on_top(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    s = tree.good()
    first = prepare_worktree(
        tree.source, [replace(s, patches=s.patches[:1])], "k", tree.cache, Runner()
    )
    capsys.readouterr()
    both = prepare_worktree(tree.source, [s], "k", tree.cache, Runner())
    assert "apply: xdp-good: 1 of 2 patches" in capsys.readouterr().err
    assert git(first.path, "rev-parse", "HEAD^") == first.head, "second patch applied on top"
    assert both.head != first.head
    # The same commits as applying both at once: check-patches ends where run starts.
    fresh = CacheLayout(tree.cache.root.parent / "cache2")
    again = prepare_worktree(tree.source, [s], "k", fresh, Runner())
    assert again.head == both.head


def test_changed_earlier_patch_resets_to_base(
    tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    s = tree.good()
    prepare_worktree(tree.source, [s], "k", tree.cache, Runner())
    other = tree.series("xdp-other", [("xdp: other", {"net/core/other.c": "int other;\n"})])
    capsys.readouterr()
    wt = prepare_worktree(tree.source, [other], "k", tree.cache, Runner())
    assert "apply: xdp-other: 1 of 1 patches" in capsys.readouterr().err
    assert git(wt.path, "rev-parse", "HEAD^") == tree.base


def test_edited_later_patch_keeps_the_earlier_ones(
    tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = [tree.good()]
    first = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    kept = git(first.path, "rev-parse", "HEAD^")
    veth = first.path / "drivers/net/veth.c"
    mtime = veth.stat().st_mtime_ns
    patch = stack[0].patches[1]
    patch.write_text(patch.read_text().replace("int xdp_helper(void);", "int xdp_helper(int);"))
    capsys.readouterr()
    second = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    assert "apply: xdp-good: 1 of 2 patches" in capsys.readouterr().err
    assert git(second.path, "rev-parse", "HEAD^") == kept, "first patch's commit kept"
    assert veth.stat().st_mtime_ns == mtime, "a file only the first patch touched is not rewritten"
    assert (second.path / "net/core/xdp_helper.c").read_text() == "int xdp_helper(int);\n"


def test_common_prefix() -> None:
    assert common_prefix([], ["a"]) == 0
    assert common_prefix(["a", "b"], ["a", "b", "c"]) == 2
    assert common_prefix(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert common_prefix(["x"], ["a"]) == 0


def test_index_lock_left_by_a_killed_run_is_removed(tree: Tree) -> None:
    """A run killed inside `git reset` leaves index.lock in the worktree's git dir;
    the next run (holding the stack lock) removes it instead of failing."""
    stack = [tree.good()]
    first = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    (first.path / "drivers/net/veth.c").write_text("local edit\n")  # forces a reset
    lock = Path(git(first.path, "rev-parse", "--absolute-git-dir")) / "index.lock"
    lock.write_text("")
    second = prepare_worktree(tree.source, stack, "k", tree.cache, Runner())
    assert not lock.exists()
    assert _clean(second.path)
    assert "l3 tx" in (second.path / "drivers/net/veth.c").read_text()
