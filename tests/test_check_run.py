"""harness check from the intake to the results: check.json, junit.xml, summary.md
and the exit code; --no-build with the real checkpatch.pl, the tree checks with a
fake make and fake scripts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from helpers import KERNEL_MAKEFILE, commit_files, git, init_repo, script
from mboxes import cover, edit, good_series, new_file, patch, write_mbox

from harness.check_intake import CheckOptions
from harness.check_posting import run_check
from harness.errors import ExitCode
from harness.paths import CacheLayout

KERNEL_SCRIPTS = Path("/work/kernel/scripts")
REPO = Path(__file__).resolve().parent.parent
needs_checkpatch = pytest.mark.skipif(
    not (KERNEL_SCRIPTS / "checkpatch.pl").is_file(), reason="no kernel checkpatch.pl here"
)
UAPI = "include/uapi/linux/xdpx.h"


def no_host_check(stages: object) -> None:
    return None


def check(tmp_path: Path, repo: Path, **kw: Any) -> tuple[ExitCode, dict[str, Any], Path]:
    opts = CheckOptions(results_root=tmp_path / "results", **kw)
    code = run_check(opts, repo, CacheLayout(tmp_path / "cache"), host_check=no_host_check)
    results = (tmp_path / "results" / "latest").resolve()
    return code, json.loads((results / "check.json").read_text()), results


def statuses(data: dict[str, Any]) -> dict[tuple[int, str], str]:
    return {(row["patch"], c["check"]): c["status"] for row in data["rows"] for c in row["checks"]}


def fake_base(tmp_path: Path) -> tuple[Path, str]:
    """A kernel git tree with a UAPI header and its tools/ copy, and a commit to fix."""
    tree = tmp_path / "linux"
    init_repo(
        tree,
        {
            "Makefile": KERNEL_MAKEFILE,
            UAPI: "#define XDP_A 1\n",
            "tools/" + UAPI: "#define XDP_A 1\n",
            "net/core/dev.c": "int dev;\n",
        },
    )
    fixed = commit_files(tree, {"net/core/dev.c": "int dev;\nint bug;\n"}, "net: break things")
    return tree, fixed


@needs_checkpatch
def test_no_build_findings_name_their_patch(tmp_path: Path, harness_repo: Path) -> None:
    tree, fixed = fake_base(tmp_path)
    h = "include/uapi/linux/xdpx.h"
    mails = [
        cover(4),
        patch(
            1,
            4,
            "net: add a helper",
            new_file("net/core/helper.c", ["int helper;"]),
            signed_off=None,
        ),
        patch(
            2,
            4,
            "net: fix the bug",
            edit("net/core/dev.c", ["int dev;"], ["int dev2;"]),
            trailers=(f'Fixes: {fixed[:8]} ("net: break things")',),
        ),
        patch(
            3,
            4,
            "net: add XDP_B",
            edit(h, ["#define XDP_A 1"], ["#define XDP_A 1", "#define XDP_B 2"]),
        ),
        patch(
            4,
            4,
            "net: fix it right",
            edit("net/core/dev.c", ["int dev;"], ["int dev3;"]),
            trailers=(f'Fixes: {fixed[:12]} ("net: break things")',),
        ),
    ]
    box = write_mbox(tmp_path / "posting.mbox", *mails)
    code, data, results = check(
        tmp_path,
        harness_repo,
        mbox=box,
        no_build=True,
        scripts=KERNEL_SCRIPTS,
        kernel_tree=tree,
    )
    assert code == ExitCode.FAILED
    s = statuses(data)
    fails = sorted(k for k, v in s.items() if v == "fail")
    assert fails == [
        (1, "checkpatch"),  # MISSING_SIGN_OFF
        (1, "signed-off-by"),
        (2, "fixes"),
        (3, "uapi-mirror"),
    ]
    assert s[(4, "fixes")] == "pass"  # found in the tree's history, subject matches
    assert s[(0, "cover-letter")] == "pass"
    assert s[(2, "applies")] == "skip"
    row3 = data["rows"][3]
    assert row3["subject"] == "net: add XDP_B"
    uapi = next(c for c in row3["checks"] if c["check"] == "uapi-mirror")
    assert "tools/include/uapi/linux/xdpx.h not in the series" in uapi["summary"]
    suite = ET.parse(results / "junit.xml").getroot()
    failed_cases = {
        (c.get("classname"), c.get("name"))
        for c in suite.iter("testcase")
        if c.find("failure") is not None
    }
    assert ("patch03.net: add XDP_B", "uapi-mirror") in failed_cases
    assert suite.get("failures") == "4"
    md = (results / "summary.md").read_text()
    assert "| 3 net: add XDP_B | - | - | - | ✓ | ✓ | ✓ | ✓ | ✗ |" in md
    assert "**2 net: fix the bug**: fixes ✗" in md
    assert "FAIL: 4 check(s) failed" in md
    assert (results / "patches" / "0001.patch").is_file()


@needs_checkpatch
def test_good_series_passes_and_tags_are_shown(tmp_path: Path, harness_repo: Path) -> None:
    tree, _ = fake_base(tmp_path)
    from mboxes import reply

    box = write_mbox(
        tmp_path / "good.mbox",
        *good_series(),
        reply(
            "Re: [PATCH net-next 1/3] net: add a helper",
            "<patch-1@example.org>",
            "Acked-by: Maintainer <m@example.org>",
        ),
    )
    code, data, results = check(
        tmp_path,
        harness_repo,
        mbox=box,
        no_build=True,
        scripts=KERNEL_SCRIPTS,
        kernel_tree=tree,
    )
    assert code == ExitCode.OK, (results / "summary.md").read_text()
    assert data["rows"][1]["given_tags"] == ["Acked-by: Maintainer <m@example.org>"]
    assert "### Tags given in replies" in (results / "summary.md").read_text()


def test_bad_numbering_is_exit_2_with_results(tmp_path: Path, harness_repo: Path) -> None:
    d = new_file("a.c", ["x"])
    box = write_mbox(tmp_path / "p.mbox", patch(1, 3, "a: a", d), patch(3, 3, "a: c", d))
    code, data, _ = check(tmp_path, harness_repo, mbox=box, no_build=True, scripts=KERNEL_SCRIPTS)
    assert code == ExitCode.USAGE
    assert "missing 2/3" in data["error"]
    assert data["exit_code"] == 2


@needs_checkpatch
def test_feature_flags_no_build_has_no_fail(tmp_path: Path) -> None:
    series = REPO / "patches" / "feature-flags"
    box = tmp_path / "feature-flags.mbox"
    box.write_bytes(b"".join(p.read_bytes() for p in sorted(series.glob("*.patch"))))
    code, data, results = check(
        tmp_path,
        REPO,
        mbox=box,
        no_build=True,
        scripts=KERNEL_SCRIPTS,
        allow=series / "series.toml",
    )
    s = statuses(data)
    assert not [k for k, v in s.items() if v == "fail"], (results / "summary.md").read_text()
    assert code == ExitCode.OK
    assert len(data["rows"]) == 12  # the series and 11 patches
    assert "GIT_COMMIT_ID" in data["checkpatch_allow"]


# -- with a tree: fake make, fake checkpatch.pl and kernel-doc ------------------------

FAKE_MAKE = r"""
for a in "$@"; do case "$a" in
  O=*) O="${a#O=}";; KCONFIG_ALLCONFIG=*) ALL="${a#KCONFIG_ALLCONFIG=}";;
  allnoconfig) CFG=1;; bzImage) BZ=1;; *.o) OBJ="$a";; esac; done
if [ -n "$CFG" ]; then cp "$ALL" "$O/.config"; exit 0; fi
if [ -n "$BZ" ]; then
  if grep -rq SYNTAX_ERROR --include='*.c' .; then echo "net/x.c:1:1: error: boom"; exit 2; fi
  mkdir -p "$O/arch/x86/boot"; date +%s%N > "$O/arch/x86/boot/bzImage"; : > "$O/vmlinux"
  exit 0
fi
if [ -n "$OBJ" ]; then
  src="${OBJ%.o}.c"
  grep -n WARNME "$src" | while IFS=: read n rest; do
    echo "$src:$n:5: warning: unused variable 'warnme' [-Wunused-variable]" >&2; done
  exit 0
fi
exit 1
"""
FAKE_CHECKPATCH = 'print "total: 0 errors, 0 warnings, 0 checks, 1 lines checked\\n";\n'
FAKE_KERNEL_DOC = (
    "my $f = $ARGV[-1]; open(F, '<', $f) or die; "
    'while (<F>) { print STDERR "$f:$.: warning: bad doc\\n" if /BADDOC/ }\n'
)


def test_tree_checks_with_fake_build(
    tmp_path: Path, harness_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script(bindir / "make", FAKE_MAKE)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    tree, _ = fake_base(tmp_path)
    commit_files(
        tree,
        {
            "scripts/checkpatch.pl": FAKE_CHECKPATCH,
            "scripts/kernel-doc": FAKE_KERNEL_DOC,
            "net/core/old.c": "int old; /* WARNME before */\n",
        },
        "scripts",
    )
    uapi = ["#define XDP_A 1", "#define XDP_B 2"]
    mails = [
        cover(5),
        patch(1, 5, "net: add a helper", new_file("net/core/helper.c", ["int helper;"])),
        patch(
            2,
            5,
            "net: warn",
            edit("net/core/helper.c", ["int helper;"], ["int helper;", "int WARNME;"]),
        ),
        patch(
            3,
            5,
            "net: document",
            new_file("net/core/doc.h", ["/** BADDOC */"]) + edit(UAPI, uapi[:1], uapi),
        ),
        patch(
            4,
            5,
            "net: old stays",
            edit(
                "net/core/old.c",
                ["int old; /* WARNME before */"],
                ["int old; /* WARNME before */", "int x;"],
            ),
        ),
        patch(5, 5, "net: stale", edit("net/core/dev.c", ["int nothing;"], ["int else;"])),
    ]
    box = write_mbox(tmp_path / "p.mbox", *mails)
    code, data, results = check(tmp_path, harness_repo, mbox=box, kernel_tree=tree)
    s = statuses(data)
    assert code == ExitCode.FAILED, (results / "summary.md").read_text()
    assert [s[(n, "applies")] for n in (1, 2, 3, 4, 5)] == ["pass"] * 4 + ["fail"]
    assert [s[(n, "builds")] for n in (1, 2, 3, 4)] == ["pass", "fail", "pass", "pass"]
    assert s[(5, "builds")] == "skip"
    assert s[(3, "kernel-doc")] == "fail"
    assert s[(1, "kernel-doc")] == "pass"
    assert s[(3, "uapi-mirror")] == "fail"
    assert s[(1, "uapi-mirror")] == "pass"
    row2 = data["rows"][2]
    build = next(c for c in row2["checks"] if c["check"] == "builds")
    assert "1 new W=1 warning(s): net/core/helper.c: unused variable 'warnme'" in build["summary"]
    row3 = next(c for c in data["rows"][3]["checks"] if c["check"] == "uapi-mirror")
    assert "-#define XDP_B 2" in row3["log"]  # tools/ copy lacks it
    assert (
        "net/core/dev.c"
        in next(c for c in data["rows"][5]["checks"] if c["check"] == "applies")["summary"]
    )
    assert (results / "build-base.log").is_file()
    # the user's tree is untouched: the check ran in a worktree of the cache
    assert git(tree, "status", "--porcelain") == ""


@needs_checkpatch
def test_series_of_the_repo_with_its_allow_list(tmp_path: Path, harness_repo: Path) -> None:
    from helpers import make_series

    mails = good_series()
    files = {
        f"{i:04d}-p.patch": "From x Mon Sep 17 00:00:00 2001\n" + m for i, m in enumerate(mails)
    }
    files["0000-cover-letter.patch"] = files.pop("0000-p.patch")
    d = make_series(harness_repo, "s1", patches=files)
    with (d / "series.toml").open("a") as f:
        f.write('[checkpatch]\nallow = { FILE_PATH_CHANGES = "the tree has no MAINTAINERS" }\n')
    code, data, results = check(
        tmp_path, harness_repo, series="s1", no_build=True, scripts=KERNEL_SCRIPTS
    )
    assert code == ExitCode.OK, (results / "summary.md").read_text()
    assert data["checkpatch_allow"] == {"FILE_PATH_CHANGES": "the tree has no MAINTAINERS"}
    assert [r["patch"] for r in data["rows"]] == [0, 1, 2, 3]


@needs_checkpatch
def test_range_of_a_kernel_tree(tmp_path: Path, harness_repo: Path) -> None:
    tree, _ = fake_base(tmp_path)
    base = git(tree, "rev-parse", "HEAD")
    commit_files(
        tree,
        {"net/core/dev.c": "int dev;\nint bug;\nint more;\n"},
        "net: more\n\nWhy it is needed.\n\nSigned-off-by: Test Author <author@example.org>",
    )
    code, data, results = check(
        tmp_path,
        harness_repo,
        range=f"{base}..HEAD",
        kernel_tree=tree,
        no_build=True,
        scripts=KERNEL_SCRIPTS,
    )
    s = statuses(data)
    assert s[(0, "cover-letter")] == "skip"
    assert s[(1, "signed-off-by")] == "pass"
    assert data["rows"][1]["subject"] == "net: more"
    assert code == ExitCode.OK, (results / "summary.md").read_text()


def test_command_line_wants_one_source() -> None:
    from harness.cli import make_parser

    with pytest.raises(SystemExit) as info:
        make_parser().parse_args(["check", "--no-build"])
    assert info.value.code == 2
    args = make_parser().parse_args(["check", "--mbox", "x.mbox", "--depends-on", "a,b"])
    assert args.mbox == Path("x.mbox") and args.depends_on == ["a,b"]


@needs_checkpatch
def test_a_fix_of_an_earlier_patch_is_named(tmp_path: Path, harness_repo: Path) -> None:
    tree, _ = fake_base(tmp_path)
    mails = [
        cover(2),
        patch(1, 2, "net: add a helper", new_file("net/core/helper.c", ["int helper;"])),
        patch(
            2,
            2,
            "net: fix the helper",
            edit("net/core/helper.c", ["int helper;"], ["int helper2;"]),
            trailers=('Fixes: 0123456789ab ("net: add a helper")',),
        ),
    ]
    box = write_mbox(tmp_path / "posting.mbox", *mails)
    code, data, _ = check(
        tmp_path, harness_repo, mbox=box, no_build=True, scripts=KERNEL_SCRIPTS, kernel_tree=tree
    )
    assert code == ExitCode.FAILED
    s = statuses(data)
    assert s[(1, "fixes")] == "pass" and s[(2, "fixes")] == "fail"
    row2 = next(r for r in data["rows"] if r["patch"] == 2)
    fixes = next(c for c in row2["checks"] if c["check"] == "fixes")
    assert "fixes patch 1 of this posting" in fixes["summary"]
