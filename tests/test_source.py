"""The kernel source: Makefile version, and a user's git tree mirrored into the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import commit_files, init_repo

from harness.errors import ExitCode, UsageError
from harness.paths import CacheLayout
from harness.runner import Runner
from harness.source import debian_source, makefile_version, tree_source

MAKEFILE = """\
# SPDX-License-Identifier: GPL-2.0
VERSION = 6
PATCHLEVEL = 12
SUBLEVEL = 117
EXTRAVERSION =
NAME = Baby Opossum Posse
"""


@pytest.mark.parametrize(
    ("sub", "extra", "version"),
    [("117", "", "6.12.117"), ("0", "-rc7", "6.12-rc7"), ("0", "", "6.12"), ("", "", "6.12")],
)
def test_makefile_version(sub: str, extra: str, version: str) -> None:
    text = MAKEFILE.replace("SUBLEVEL = 117", f"SUBLEVEL = {sub}").replace(
        "EXTRAVERSION =", f"EXTRAVERSION = {extra}"
    )
    assert makefile_version(text) == version


def test_not_a_kernel_makefile() -> None:
    with pytest.raises(UsageError, match="not a Linux kernel Makefile"):
        makefile_version("all:\n\tgcc -o x x.c\n")


def test_tree_source_mirrors_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "linux"
    head = init_repo(tree, {"Makefile": MAKEFILE, "net/core/dev.c": "int x;\n"})
    cache = CacheLayout(tmp_path / "cache")
    src = tree_source(tree, cache, Runner())
    assert src.commit == head
    assert src.version == "6.12.117"
    assert src.source_id.startswith("tree-")
    assert src.repo == cache.trees / f"{src.source_id}.git"
    assert src.origin == f"git tree {tree.resolve()} at {head[:12]}"

    (tree / "net/core/dev.c").write_text("int y;\n")  # uncommitted: ignored, with a warning
    newer = commit_files(tree, {"net/core/filter.c": "int f;\n"}, "filter")
    (tree / "net/core/dev.c").write_text("int z;\n")
    again = tree_source(tree, cache, Runner())
    assert again.commit == newer
    assert again.source_id == src.source_id
    assert "has uncommitted changes; only its HEAD" in capsys.readouterr().err


def test_tree_source_errors(tmp_path: Path) -> None:
    cache = CacheLayout(tmp_path / "cache")
    with pytest.raises(UsageError, match="no such directory"):
        tree_source(tmp_path / "missing", cache, Runner())
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError) as info:
        tree_source(plain, cache, Runner())
    assert info.value.problem.endswith("not a git tree")
    assert info.value.exit_code == ExitCode.USAGE
    other = tmp_path / "other"
    init_repo(other, {"README": "not a kernel\n"})
    with pytest.raises(UsageError, match="HEAD has no kernel Makefile"):
        tree_source(other, cache, Runner())


def _tarball(tmp_path: Path, name: str, sublevel: str, extra_file: str = "") -> Path:
    """A miniature linux-source tarball laid out like Debian's."""
    top = tmp_path / f"src-{name}" / "linux-source-6.12"
    (top / "kernel").mkdir(parents=True)
    (top / "Makefile").write_text(MAKEFILE.replace("SUBLEVEL = 117", f"SUBLEVEL = {sublevel}"))
    (top / "kernel" / "fork.c").write_text("int fork;\n" + extra_file)
    # Debian's top-level .gitignore ignores everything: the import must not care.
    (top / ".gitignore").write_text("/*\n")
    tar = tmp_path / f"{name}.tar.xz"
    Runner().run(["tar", "-C", str(top.parent), "-cJf", str(tar), "linux-source-6.12"])
    return tar


def test_debian_source_imports_once_into_a_bare_repo(tmp_path: Path) -> None:
    cache = CacheLayout(tmp_path / "cache")
    tar = _tarball(tmp_path, "a", "117")
    first = debian_source(cache, Runner(), tarball=tar)
    assert first.version == "6.12.117"
    assert first.source_id == "debian"
    assert (cache.debian_repo / "HEAD").exists()
    assert not (cache.debian_repo / "Makefile").exists(), "the base repo has no checkout"
    files = Runner().git(cache.debian_repo, "ls-tree", "-r", "--name-only", first.commit)
    assert files.splitlines() == [".gitignore", "Makefile", "kernel/fork.c"]
    again = Runner()
    assert debian_source(cache, again, tarball=tar) == first
    assert not any("tar" in line for line in again.log.lines), "second call must not unpack"


def test_newer_debian_tarball_becomes_a_child_commit(tmp_path: Path) -> None:
    cache = CacheLayout(tmp_path / "cache")
    old = debian_source(cache, Runner(), tarball=_tarball(tmp_path, "a", "117"))
    new = debian_source(cache, Runner(), tarball=_tarball(tmp_path, "b", "120", "int x;\n"))
    assert new.version == "6.12.120"
    assert new.commit != old.commit
    parent = Runner().git(cache.debian_repo, "rev-parse", f"{new.commit}^")
    assert parent == old.commit
