"""harness bisect end to end with a fake make and a fake vng: each point applied in the
bisect stack, built (the fake bzImage lists net/core/), booted, its outcome read from
the guest's junit.xml."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import DRY_RUN, make_series, script
from mboxes import cover, new_file, patch, write_mbox
from test_check_run import fake_base

from harness.bisect_run import BisectOptions, run_bisect
from harness.errors import ExitCode
from harness.paths import CacheLayout

# the bzImage: the files of net/core/, so that the guest knows which patches it has
MAKE = r"""
for a in "$@"; do case "$a" in
  O=*) O="${a#O=}";; KCONFIG_ALLCONFIG=*) ALL="${a#KCONFIG_ALLCONFIG=}";;
  allnoconfig) CFG=1;; bzImage) BZ=1;; esac; done
if [ -n "$CFG" ]; then cp "$ALL" "$O/.config"; exit 0; fi
if [ -n "$BZ" ]; then
  if grep -rq SYNTAX_ERROR --include='*.c' .; then echo "net/x.c:1:1: error: boom"; exit 2; fi
  mkdir -p "$O/arch/x86/boot"; ls net/core > "$O/arch/x86/boot/bzImage"; : > "$O/vmlinux"
  exit 0
fi
exit 1
"""

CASE = '<testcase classname="selftests.s8.test_x" name="test_x" time="0.5">{}</testcase>'
SUITE = '<?xml version="1.0"?><testsuites><testsuite name="p">{}</testsuite></testsuites>'
# fails from patch 5 (f5.c) on; skips at patch 4 when SKIP4 is set
GUEST = (
    'while [ $# -gt 0 ]; do case "$1" in --rwdir) RES=$2;; --run) BZ=$2;; esac; shift; done\n'
    'echo "$RES" >> "$(dirname "$RES")/boots"\n'
    "echo 'harness-guest: start'\n"
    'if grep -q f5.c "$BZ"; then C=\'<failure message="x">t</failure>\'; X=1\n'
    'elif [ -n "$SKIP4" ] && grep -q f4.c "$BZ"; then C=\'<skipped message="s"/>\'; X=0\n'
    "else C=''; X=0; fi\n"
    f'echo \'{SUITE.format(CASE)}\' | sed "s|{{}}|$C|" > "$RES/junit.xml"\n'
    'echo "harness-guest: pytest exit $X"\n'
)


def _setup(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script(bindir / "make", MAKE)
    script(bindir / "vng", DRY_RUN + GUEST)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    make_series(repo, "s8", selftests=("s8",))
    (repo / "selftests" / "s8" / "test_x.py").write_text("def test_x() -> None:\n    pass\n")
    tree, _ = fake_base(tmp_path)
    mails = [cover(8)] + [
        patch(n, 8, f"net: add {n}", new_file(f"net/core/f{n}.c", [f"int f{n};"]))
        for n in range(1, 9)
    ]
    return tree, write_mbox(tmp_path / "p.mbox", *mails)


@pytest.mark.parametrize(("skip4", "verdict"), [(False, "FIRST FAILING"), (True, "AMBIGUOUS")])
def test_mbox_bisected_with_fake_builds_and_guests(
    tmp_path: Path,
    harness_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    skip4: bool,
    verdict: str,
) -> None:
    tree, box = _setup(tmp_path, harness_repo, monkeypatch)
    if skip4:
        monkeypatch.setenv("SKIP4", "1")
    opts = BisectOptions(
        keyword="test_x",
        mbox=box,
        depends_on=("s8",),
        kernel_tree=tree,
        accel="tcg",
        results_root=tmp_path / "results",
    )
    code = run_bisect(
        opts, harness_repo, CacheLayout(tmp_path / "cache"), host_check=lambda s: None
    )
    results = (tmp_path / "results" / "latest").resolve()
    data = json.loads((results / "bisect.json").read_text())
    assert code == ExitCode.FAILED, data["error"]
    assert data["verdict"].startswith(verdict)
    boots = [Path(b).name for b in (results / "boots").read_text().split()]
    if skip4:
        assert data["candidates"] == [4, 5]
        assert [t["outcome"] for t in data["tested"]][:2] == ["fail", "skip"]
    else:
        assert data["first_bad"]["index"] == 5
        assert data["first_bad"]["file"].endswith("patches/0005.patch")
        assert boots == ["point-0008", "point-0004", "point-0006", "point-0005"]
        assert (results / "point-0005" / "results.json").is_file()
        assert (results / "build-0005.log").is_file()
