"""parse_am_failure on what a real `git am` prints when a patch does not apply."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import GIT_ENV, commit_files, git, init_repo

from harness.apply import ApplyFailure, parse_am_failure

SUBJECT = "veth: count XDP_TX frames in the rq stats"
BASE = "".join(f"line {i}\n" for i in range(1, 21))


def _am(repo: Path, *args: str) -> str:
    """git am, expected to fail; its stdout and stderr as the harness reads them."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "am", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    assert proc.returncode != 0, "git am was expected to fail"
    return proc.stdout + proc.stderr


@pytest.fixture
def conflicting(tmp_path: Path) -> tuple[Path, Path]:
    """(repo, patch): the patch changes line 10 of drivers/net/veth.c, the repo's
    HEAD changed the same line differently."""
    repo = tmp_path / "linux"
    base = init_repo(repo, {"drivers/net/veth.c": BASE, "README": "readme\n"})
    commit_files(repo, {"drivers/net/veth.c": BASE.replace("line 10\n", "line 10 tx\n")}, SUBJECT)
    patch = Path(git(repo, "format-patch", "-1", "-o", str(tmp_path / "out")))
    git(repo, "reset", "-q", "--hard", base)
    commit_files(repo, {"drivers/net/veth.c": BASE.replace("line 10\n", "line 10 rx\n")}, "rx")
    return repo, patch


def test_three_way_conflict(conflicting: tuple[Path, Path]) -> None:
    repo, patch = conflicting
    out = _am(repo, "-3", str(patch))
    assert "CONFLICT (content)" in out  # what git said, for the record
    assert parse_am_failure(out) == ApplyFailure(SUBJECT, ("drivers/net/veth.c",))


def test_plain_am_does_not_apply(conflicting: tuple[Path, Path]) -> None:
    repo, patch = conflicting
    out = _am(repo, str(patch))
    assert parse_am_failure(out) == ApplyFailure(SUBJECT, ("drivers/net/veth.c",))


def test_file_missing_in_tree(conflicting: tuple[Path, Path]) -> None:
    repo, patch = conflicting
    git(repo, "rm", "-q", "drivers/net/veth.c")
    git(repo, "commit", "-q", "-m", "remove veth")
    out = _am(repo, str(patch))
    failure = parse_am_failure(out)
    assert failure.patch == SUBJECT
    assert failure.files == ("drivers/net/veth.c",)


def test_three_way_without_the_preimage_blob(
    tmp_path: Path, conflicting: tuple[Path, Path]
) -> None:
    # The usual case for a series made on an upstream tree and applied to a tarball
    # import: the blobs named on the patch's index line are not in this repository.
    _, patch = conflicting
    other = tmp_path / "other"
    init_repo(other, {"drivers/net/veth.c": BASE.replace("line 9\n", "line nine\n")})
    out = _am(other, "-3", str(patch))
    assert "sha1 information is lacking or useless (drivers/net/veth.c)" in out
    assert parse_am_failure(out) == ApplyFailure(SUBJECT, ("drivers/net/veth.c",))


def test_patch_number_and_subject() -> None:
    out = "Applying: a\nApplying: b\nPatch failed at 0002 xdp: second patch\n"
    assert parse_am_failure(out).patch == "xdp: second patch"


def test_unrecognised_output() -> None:
    assert parse_am_failure("fatal: not a git repository\n") == ApplyFailure(None, ())
