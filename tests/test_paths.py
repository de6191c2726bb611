"""find_repo, default_cache and the cache layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import paths
from harness.errors import ExitCode, UsageError
from harness.paths import CacheLayout, default_cache, find_repo


@pytest.fixture
def not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Pretend the package is not inside a checkout (no fallback to /work/main)."""
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "site" / "harness" / "paths.py"))


def test_env_wins(harness_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_REPO", str(harness_repo))
    assert find_repo() == harness_repo


def test_found_from_a_subdirectory(harness_repo: Path, not_installed: None) -> None:
    sub = harness_repo / "selftests" / "baseline"
    sub.mkdir(parents=True)
    assert find_repo(sub) == harness_repo.resolve()


def test_env_not_a_repo_falls_back_to_cwd(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, not_installed: None
) -> None:
    monkeypatch.setenv("HARNESS_REPO", str(tmp_path / "nowhere"))
    assert find_repo(harness_repo) == harness_repo.resolve()


def test_not_found(tmp_path: Path, not_installed: None) -> None:
    with pytest.raises(UsageError) as info:
        find_repo(tmp_path)
    assert info.value.exit_code == ExitCode.USAGE
    assert "patches/ and kernel-config/" in info.value.problem
    assert info.value.fix is not None
    assert "HARNESS_REPO=" in info.value.fix


def test_default_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "c"))
    assert default_cache() == tmp_path / "c"
    monkeypatch.delenv("HARNESS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache() == tmp_path / "xdg" / "xdp-harness"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache() == tmp_path / "home" / ".cache" / "xdp-harness"


def test_cache_layout(tmp_path: Path) -> None:
    c = CacheLayout(tmp_path)
    assert c.debian_repo == tmp_path / "linux.git"
    assert c.worktree("a+b") == tmp_path / "stacks" / "a+b" / "src"
    assert c.worktree_state("a+b") == tmp_path / "stacks" / "a+b" / "state.json"
    assert c.build("tree-1/a") == tmp_path / "stacks" / "tree-1" / "a" / "build"
    assert c.bpf("a") == tmp_path / "stacks" / "a" / "bpf"


def test_every_stack_sees_its_source_at_the_same_relative_path(tmp_path: Path) -> None:
    # What lets ccache share objects between stacks: identical command lines.
    c = CacheLayout(tmp_path)
    for key in ("baseline", "feature-flags+xdp-stats", "tree-0123456789/baseline"):
        assert c.build(key).parent / "src" == c.worktree(key)
    assert c.accel_probe == tmp_path / "accel-probe.json"
    assert c.ccache == tmp_path / "ccache"
