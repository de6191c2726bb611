"""The kernel source: Makefile version, and a user's git tree mirrored into the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import commit_files, init_repo

from harness.errors import ExitCode, UsageError
from harness.paths import CacheLayout
from harness.runner import Runner
from harness.source import makefile_version, tree_source

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
    assert "has uncommitted changes; only its HEAD" in capsys.readouterr().out


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
