"""The per-patch checks of harness check, each on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from mboxes import cover, edit, good_series, new_file, patch, write_mbox

from harness.checks import Status
from harness.checks.checkpatch import judge, run_checkpatch
from harness.checks.diffs import changed_lines
from harness.checks.fixes import check_fixes
from harness.checks.form import check_form
from harness.checks.series_level import check_cover, check_tree
from harness.checks.signoff import check_signoff
from harness.checks.uapi import by_files, by_hunks
from harness.mbox import Mail, read_mbox
from harness.runner import Runner

CHECKPATCH = Path("/work/kernel/scripts/checkpatch.pl")
DIFF = new_file("net/a.c", ["int a;"])


def one(tmp_path: Path, mail: str) -> Mail:
    (m,) = read_mbox(write_mbox(tmp_path / "one.mbox", mail)).patches
    return m


def test_signoff_of_the_author(tmp_path: Path) -> None:
    r = check_signoff(one(tmp_path, patch(1, 1, "a: a", DIFF)))
    assert r.status is Status.PASS


def test_signoff_missing_fails(tmp_path: Path) -> None:
    r = check_signoff(one(tmp_path, patch(1, 1, "a: a", DIFF, signed_off=None)))
    assert r.status is Status.FAIL
    assert "no Signed-off-by" in r.summary


def test_signoff_by_someone_else_fails_by_name_only_warns(tmp_path: Path) -> None:
    other = one(tmp_path, patch(1, 1, "a: a", DIFF, signed_off="Other <o@example.org>"))
    assert check_signoff(other).status is Status.FAIL
    moved = one(tmp_path, patch(1, 1, "a: a", DIFF, signed_off="Test Author <new@example.org>"))
    assert check_signoff(moved).status is Status.WARN


GOOD_FIXES = 'Fixes: 0123456789ab ("net: break things")'


def test_fixes_format_only_without_history() -> None:
    r = check_fixes(f"Why.\n\n{GOOD_FIXES}\nSigned-off-by: A <a@b>", None)
    assert r.status is Status.PASS
    assert "format only: base has no history" in r.summary


@pytest.mark.parametrize(
    "tag",
    [
        'Fixes: 0123456 ("net: break things")',  # too short
        "Fixes: 0123456789ab net: break things",  # not quoted
        "Fixes: 0123456789ab (net: break things)",
        "Fixes: net: break things",
    ],
)
def test_fixes_wrong_format_fails(tag: str) -> None:
    r = check_fixes(f"Why.\n\n{tag}\n", None)
    assert r.status is Status.FAIL
    assert "want 'Fixes: <12+ hex chars" in r.summary


def test_fixes_looked_up_in_history() -> None:
    history = {"0123456789ab": "net: break things", "aaaaaaaaaaaa": "net: other"}.get
    assert check_fixes(f"{GOOD_FIXES}\n", history).status is Status.PASS
    wrong = check_fixes('Fixes: aaaaaaaaaaaa ("net: break things")\n', history)
    assert wrong.status is Status.FAIL and "is 'net: other'" in wrong.summary
    gone = check_fixes('Fixes: bbbbbbbbbbbb ("x: y")\n', history)
    assert "not in the base tree's history" in gone.summary


def test_form(tmp_path: Path) -> None:
    assert check_form(one(tmp_path, patch(1, 1, "net: ok", DIFF))).status is Status.PASS
    assert check_form(one(tmp_path, patch(1, 1, "no subsystem", DIFF))).status is Status.WARN
    empty = one(tmp_path, patch(1, 1, "net: x", DIFF, message=""))
    assert check_form(empty).status is Status.FAIL


def test_diff_lines_stop_at_the_signature() -> None:
    d = edit("a.c", ["x", "y"], ["x", "z"]) + "-- \n2.39.5\n"
    assert changed_lines(d) == {"a.c": ["-y", "+z"]}


def _cp_output(*blocks: str) -> str:
    return "\n\n".join([*blocks, "total: 1 errors, 1 warnings, 1 checks, 9 lines checked"])


def test_checkpatch_levels_and_allow_list() -> None:
    err = "ERROR:GIT_COMMIT_ID: Please use git commit description style"
    warn = "WARNING:LONG_LINE: line length of 120 exceeds 100 columns"
    check = "CHECK:BIT_MACRO: Prefer using the BIT macro"
    assert judge(_cp_output(err, warn, check), {}).status is Status.FAIL
    r = judge(_cp_output(err, warn, check), {"GIT_COMMIT_ID": "bpftool output, not a commit"})
    assert r.status is Status.WARN
    assert "allowed GIT_COMMIT_ID: bpftool output, not a commit" in r.summary
    assert "1 warning, 1 check: BIT_MACRO, LONG_LINE" in r.summary
    assert judge("total: 0 errors, 0 warnings, 0 checks, 3 lines checked", {}).summary == "clean"
    assert judge("Can't open\n", {}).status is Status.FAIL


@pytest.mark.skipif(not CHECKPATCH.is_file(), reason="no kernel checkpatch.pl here")
def test_real_checkpatch_finds_an_error(tmp_path: Path) -> None:
    bad = edit("net/a.c", ["int a;"], ["int a;", "int b = 1;;", "int *c = (int*) 0 ;"])
    m = one(tmp_path, patch(1, 1, "net: add b", bad, signed_off=None))
    f = tmp_path / "0001.patch"
    f.write_text(m.as_patch())
    r = run_checkpatch(f, CHECKPATCH, Runner(), {})
    assert r.status is Status.FAIL
    assert "MISSING_SIGN_OFF" in r.summary


def test_uapi_without_its_mirror_names_the_patch(tmp_path: Path) -> None:
    h = "include/uapi/linux/xdpy.h"
    mails = good_series()
    mails[1] = patch(1, 3, "net: uapi", edit(h, ["#define A 1"], ["#define A 1", "#define C 3"]))
    p = read_mbox(write_mbox(tmp_path / "s.mbox", *mails))
    r = by_hunks(p, {"tools/" + h: True}.get)
    assert r[1].status is Status.FAIL
    assert "its copy tools/include/uapi/linux/xdpy.h not in the series" in r[1].summary
    assert r[3].status is Status.PASS and "mirrored (patch 3)" in r[3].summary
    assert r[2].summary == "no UAPI header changed"
    assert by_hunks(p, lambda _: False)[1].status is Status.PASS  # no copy in tools/
    assert by_hunks(p, lambda _: None)[1].status is Status.WARN  # no base to ask


def test_uapi_mirrored_differently_fails(tmp_path: Path) -> None:
    h = "include/uapi/linux/xdpx.h"
    d = edit(h, ["a"], ["a", "b"]) + edit("tools/" + h, ["a"], ["a", "B"])
    p = read_mbox(write_mbox(tmp_path / "s.mbox", patch(1, 1, "net: u", d)))
    r = by_hunks(p, lambda _: True)[1]
    assert r.status is Status.FAIL
    assert "1 changed line(s) of include/uapi/linux/xdpx.h are not made" in r.summary
    assert "+b" in r.log


def test_a_tools_copy_changed_without_the_header_fails(tmp_path: Path) -> None:
    """The other way: tools/include/uapi/ follows include/uapi/, never leads it."""
    h = "include/uapi/linux/xdpx.h"
    mails = [
        cover(2),
        patch(1, 2, "tools: only the copy", edit("tools/" + h, ["a"], ["a", "c"])),
        patch(
            2, 2, "net: both", edit(h, ["a"], ["a", "b"]) + edit("tools/" + h, ["a"], ["a", "b"])
        ),
    ]
    p = read_mbox(write_mbox(tmp_path / "s.mbox", *mails))
    r = by_hunks(p, lambda _: True)
    assert r[1].status is Status.FAIL
    assert "of tools/include/uapi/linux/xdpx.h are not made to include/uapi/linux/xdpx.h" in (
        r[1].summary
    )
    assert "+c" in r[1].log
    assert r[2].status is Status.PASS
    files = by_files(p, [{h: True}, {h: True}, {h: True}], {}, r)
    assert files[1].status is Status.FAIL and files[2].status is Status.PASS


def test_uapi_by_files(tmp_path: Path) -> None:
    h = "include/uapi/linux/xdpx.h"
    mails = [
        cover(2),
        patch(1, 2, "net: uapi", edit(h, ["a"], ["a", "b"])),
        patch(2, 2, "tools: sync", edit("tools/" + h, ["a"], ["a", "b"])),
    ]
    p = read_mbox(write_mbox(tmp_path / "s.mbox", *mails))
    hunks = by_hunks(p, lambda _: True)
    later = by_files(p, [{h: True}, {h: False}, {h: True}], {}, hunks)
    assert later[1].status is Status.PASS and "mirrored by patch 2" in later[1].summary
    never = by_files(p, [{h: True}, {h: False}, {h: False}], {h: "-b"}, hunks)
    assert never[1].status is Status.FAIL and "-b" in never[1].log
    drifted = by_files(p, [{h: False}, {h: False}, {h: False}], {}, hunks)
    assert drifted[1].status is Status.PASS  # differed at the base: the changes compared
    assert "differed already at the base" in drifted[1].summary


def test_series_level(tmp_path: Path) -> None:
    mails = good_series()
    with_cover = read_mbox(write_mbox(tmp_path / "a.mbox", *mails))
    assert check_cover(with_cover).status is Status.PASS
    assert check_tree(with_cover).summary == "for net-next"
    without = read_mbox(write_mbox(tmp_path / "b.mbox", *mails[1:]))
    assert check_cover(without).status is Status.FAIL
    untargeted = read_mbox(
        write_mbox(tmp_path / "c.mbox", patch(1, 1, "a: a", DIFF, prefix="PATCH"))
    )
    assert check_cover(untargeted).status is Status.PASS  # one patch
    assert check_tree(untargeted).status is Status.WARN


def test_fixes_naming_an_earlier_patch_of_the_posting_fails() -> None:
    """A series that adds a bug in one patch and fixes it in another: fold the fix."""
    earlier = {"net: add a helper": 1}
    tag = 'Fixes: 0123456789ab ("net: add a helper")'
    r = check_fixes(f"Why.\n\n{tag}\n", None, earlier)
    assert r.status is Status.FAIL
    assert "fixes patch 1 of this posting: fold the fix into it" in r.summary
    assert check_fixes(f"{GOOD_FIXES}\n", None, earlier).status is Status.PASS
