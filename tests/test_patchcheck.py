"""checkpatch output parsing and per-patch truncation of a series."""

from __future__ import annotations

from pathlib import Path

from harness.patchcheck import PatchResult, parse_checkpatch, truncated
from harness.series import Series

# What checkpatch.pl --strict --show-types printed for a real patch of this project.
ONE_CHECK = """\
CHECK:BIT_MACRO: Prefer using the BIT macro
#235: FILE: tools/include/uapi/linux/if_link.h:1328:
+#define XDP_FLAGS_ENFORCE_FEATURES\t(1U << 5)

total: 0 errors, 0 warnings, 1 checks, 164 lines checked

NOTE: For some of the reported defects, checkpatch may be able to
      mechanically convert to the typical style using --fix or --fix-inplace.

/tmp/0004-net-xdp-refuse.patch has style problems, please review.
"""

CLEAN = """\
total: 0 errors, 0 warnings, 0 checks, 52 lines checked

/tmp/0001-bpf-derive.patch has no obvious style problems and is ready for submission.
"""

ERRORS = """\
ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)

WARNING:LONG_LINE: line length of 120 exceeds 100 columns
#20: FILE: net/core/dev.c:10:
+\tint a_really_long_line;

total: 1 errors, 1 warnings, 20 lines checked
"""


def test_clean_patch() -> None:
    r = parse_checkpatch(CLEAN)
    assert (r.errors, r.warnings, r.checks, r.clean, r.report) == (0, 0, 0, True, "")


def test_checks_are_counted_and_reported() -> None:
    r = parse_checkpatch(ONE_CHECK)
    assert (r.errors, r.warnings, r.checks) == (0, 0, 1)
    assert not r.clean
    assert r.report.startswith("CHECK:BIT_MACRO: Prefer using the BIT macro")
    assert "if_link.h:1328" in r.report
    assert "NOTE:" not in r.report


def test_errors_and_warnings_without_checks_count() -> None:
    # Without --strict, checkpatch omits the checks count from its summary.
    r = parse_checkpatch(ERRORS)
    assert (r.errors, r.warnings, r.checks) == (1, 1, 0)
    assert "MISSING_SIGN_OFF" in r.report
    assert "LONG_LINE" in r.report


def test_no_summary_is_an_error() -> None:
    r = parse_checkpatch("Can't open file\n")
    assert r.errors == 1
    assert "Can't open file" in r.report


def test_truncated_series_keeps_the_first_patches(tmp_path: Path) -> None:
    patches = tuple(tmp_path / f"000{i}-p.patch" for i in (1, 2, 3))
    s = Series("s", tmp_path, "", None, (), (), ("baseline",), (), patches, None)
    assert truncated(s, 2).patches == patches[:2]
    assert truncated(s, 2).name == "s"


def test_result_line_names_failures() -> None:
    cp = parse_checkpatch(ERRORS)
    line = PatchResult(3, "0003-x.patch", "net: do a thing", False, 12.0, "boom", cp).line()
    assert "0003 net: do a thing" in line
    assert "BUILD FAILED" in line
    assert "1 errors, 1 warnings, 0 checks" in line
