"""harness check's intake: an mbox read into a posting, numbering problems refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from mboxes import cover, edit, good_series, new_file, patch, reply, write_mbox

from harness.errors import ExitCode, UsageError
from harness.mbox import read_mbox

DIFF = new_file("net/a.c", ["int a;"])


def test_good_series_in_order_with_cover(tmp_path: Path) -> None:
    mails = good_series()
    box = write_mbox(tmp_path / "s.mbox", mails[0], mails[3], mails[1], mails[2])
    p = read_mbox(box)
    assert [m.number for m in p.patches] == [1, 2, 3]
    assert p.cover is not None and p.cover.title == "net: a series"
    assert p.patches[0].title == "net: add a helper"
    assert p.patches[0].author == "Test Author <author@example.org>"
    assert "net/core/helper.c" in p.patches[0].diff
    assert "Signed-off-by: Test Author" in p.patches[0].message
    assert p.prefix_words == ["PATCH", "net-next"]


def test_any_prefix_and_base_commit(tmp_path: Path) -> None:
    prefix = "RFC PATCH bpf-next"
    box = write_mbox(
        tmp_path / "s.mbox",
        cover(2, prefix=prefix, version=2, base_commit="0123456789ab"),
        patch(2, 2, "bpf: b", DIFF, prefix=prefix, version=2),
        patch(1, 2, "bpf: a", DIFF, prefix=prefix, version=2),
    )
    p = read_mbox(box)
    assert [m.title for m in p.patches] == ["bpf: a", "bpf: b"]
    assert p.version == 2
    assert p.base_commit == "0123456789ab"
    assert p.patches[0].prefix == "RFC PATCH bpf-next v2 1/2"


def _refused(tmp_path: Path, *mails: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        read_mbox(write_mbox(tmp_path / "s.mbox", *mails))
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.fix
    return info.value


def test_hole_in_numbering(tmp_path: Path) -> None:
    err = _refused(tmp_path, patch(1, 3, "a: a", DIFF), patch(3, 3, "a: c", DIFF))
    assert "incomplete series: missing 2/3 (have 1, 3)" in err.problem
    assert "whole thread" in str(err.fix)


def test_duplicated_number(tmp_path: Path) -> None:
    err = _refused(
        tmp_path,
        patch(1, 2, "a: first", DIFF),
        patch(1, 2, "a: again", DIFF),
        patch(2, 2, "a: b", DIFF),
    )
    assert "duplicated patch numbers: 1/2 ('a: first' and 'a: again')" in err.problem


def test_mixed_versions(tmp_path: Path) -> None:
    err = _refused(tmp_path, patch(1, 2, "a: a", DIFF), patch(2, 2, "a: b", DIFF, version=2))
    assert "more than one version (v1: 1/2; v2: 2/2)" in err.problem


def test_mixed_totals(tmp_path: Path) -> None:
    err = _refused(tmp_path, patch(1, 2, "a: a", DIFF), patch(2, 3, "a: b", DIFF))
    assert "disagree on how many patches" in err.problem


def test_no_patch_at_all(tmp_path: Path) -> None:
    err = _refused(tmp_path, reply("Re: [PATCH 1/1] a: a", "<x@y>", "Looks good."))
    assert "no patch in it" in err.problem


def test_mime_encoded_subject(tmp_path: Path) -> None:
    subject = "=?UTF-8?q?=5BPATCH_net_1/1=5D_net:_fix_J=C3=B6rg's_bug?="
    box = write_mbox(
        tmp_path / "s.mbox",
        patch(1, 1, "", DIFF, subject=subject, author="=?UTF-8?q?J=C3=B6rg?= <j@example.org>"),
    )
    (m,) = read_mbox(box).patches
    assert m.title == "net: fix Jörg's bug"
    assert m.prefix == "PATCH net 1/1"
    assert m.author_name == "Jörg"
    assert "Subject: [PATCH net 1/1] net: fix Jörg's bug" in m.as_patch()


def test_reply_with_tags_is_not_a_patch(tmp_path: Path) -> None:
    mails = good_series()
    box = write_mbox(
        tmp_path / "s.mbox",
        *mails,
        reply(
            "Re: [PATCH net-next 2/3] net: use the helper",
            "<patch-2@example.org>",
            "> Signed-off-by: Test Author <author@example.org>\n> Reviewed-by: quoted@no\n\n"
            "Reviewed-by: Reviewer <reviewer@example.org>",
        ),
        reply(
            "Re: [PATCH net-next 0/3] net: a series",
            "<cover@example.org>",
            "For the series:\nTested-by: Tester <tester@example.org>",
        ),
    )
    p = read_mbox(box)
    assert [m.number for m in p.patches] == [1, 2, 3]
    assert p.patches[0].given_tags == ("Tested-by: Tester <tester@example.org>",)
    assert p.patches[1].given_tags == (
        "Reviewed-by: Reviewer <reviewer@example.org>",
        "Tested-by: Tester <tester@example.org>",
    )


def test_crlf_mbox(tmp_path: Path) -> None:
    box = write_mbox(tmp_path / "s.mbox", *good_series(), crlf=True)
    p = read_mbox(box)
    assert [m.number for m in p.patches] == [1, 2, 3]
    assert "\r" not in p.patches[1].body
    assert p.patches[1].diff.startswith("diff --git a/net/core/helper.c")


def test_in_body_from_is_the_author(tmp_path: Path) -> None:
    d = edit("a.c", ["x"], ["y"])
    mail = patch(1, 1, "a: a", d, message="From: Real Author <real@example.org>\n\nWhy.")
    (m,) = read_mbox(write_mbox(tmp_path / "s.mbox", mail)).patches
    assert m.author == "Real Author <real@example.org>"
    assert m.message.startswith("Why.")
