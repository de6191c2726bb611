"""harness check --per-patch-tests with a fake make and a fake vng: each patch's kernel
booted, the baseline suite's outcome a check of its own (flaky: a warning), the VM
tests in kcidb.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import commit_files, fake_vng, make_series, script
from kcidb_io import schema
from mboxes import cover, new_file, patch, write_mbox
from test_check_run import FAKE_CHECKPATCH, FAKE_KERNEL_DOC, FAKE_MAKE, check, fake_base, statuses

from harness.check_intake import CheckOptions
from harness.check_posting import run_check
from harness.errors import ExitCode
from harness.paths import CacheLayout

PASS = '<testcase classname="selftests.baseline.test_x" name="test_ok" time="0.5"/>'
FAIL = (
    '<testcase classname="selftests.baseline.test_x" name="test_ok" time="0.5">'
    '<failure message="assert 0">trace</failure></testcase>'
)


def _suite(case: str) -> str:
    return f'<?xml version="1.0"?><testsuites><testsuite name="p">{case}</testsuite></testsuites>'


# patch 1 passes; patch 2 fails, then passes in the rerun guest; patch 3 fails twice
GUEST = (
    # the rerun guest's one writable directory is <results>/rerun
    'case "$RES" in */rerun) RUN=$(dirname "$RES");; *) RUN=$RES;; esac\n'
    'echo "$RUN" >> "$(dirname "$RUN")/boots"\n'
    "echo 'harness-guest: start'\n"
    'if [ -f "$RES/units.json" ] && [ "$RES" != "$RUN" ]; then\n'
    '  case "$RUN" in *vm-0003) J=fail;; *) J=pass;; esac\n'
    "else\n"
    '  case "$RUN" in *vm-0001) J=pass;; *) J=fail;; esac\n'
    "fi\n"
    "OUT=$RES\n"
    f"if [ $J = pass ]; then echo '{_suite(PASS)}' > \"$OUT/junit.xml\"; "
    "echo 'harness-guest: pytest exit 0'; "
    f"else echo '{_suite(FAIL)}' > \"$OUT/junit.xml\"; echo 'harness-guest: pytest exit 1'; fi\n"
)


def _setup(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script(bindir / "make", FAKE_MAKE)
    fake_vng(bindir, GUEST)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    make_series(repo, "baseline", selftests=("baseline",))
    tree, _ = fake_base(tmp_path)
    commit_files(
        tree,
        {"scripts/checkpatch.pl": FAKE_CHECKPATCH, "scripts/kernel-doc": FAKE_KERNEL_DOC},
        "scripts",
    )
    mails = [cover(3)] + [
        patch(n, 3, f"net: add {n}", new_file(f"net/core/f{n}.c", [f"int f{n};"]))
        for n in (1, 2, 3)
    ]
    write_mbox(tmp_path / "p.mbox", *mails)
    return tree


def test_each_patch_booted_flaky_warns_twice_fails(
    tmp_path: Path, harness_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _setup(tmp_path, harness_repo, monkeypatch)
    code, data, results = check(
        tmp_path,
        harness_repo,
        mbox=tmp_path / "p.mbox",
        kernel_tree=tree,
        per_patch_tests=True,
        accel="tcg",
    )
    s = statuses(data)
    assert [s[(n, "vm-tests")] for n in (1, 2, 3)] == ["pass", "warn", "fail"]
    assert code == ExitCode.FAILED
    boots = (results / "boots").read_text().split()
    assert [Path(b).name for b in boots] == ["vm-0001", "vm-0002", "vm-0002", "vm-0003", "vm-0003"]
    vm2 = json.loads((results / "vm-0002" / "results.json").read_text())
    assert [t["outcome"] for t in vm2["tests"]] == ["flaky"]
    row2 = next(c for c in data["rows"][2]["checks"] if c["check"] == "vm-tests")
    assert "1 flaky" in row2["summary"]
    kcidb = json.loads((results / "kcidb.json").read_text())
    schema.LATEST.validate_exactly(kcidb)
    vm = {
        (t["build_id"].split(":")[-2], t["status"])
        for t in kcidb["tests"]
        if t["path"].startswith("vm.")
    }
    assert vm == {("p01", "PASS"), ("p02", "PASS"), ("p03", "FAIL")}
    assert "| vm-tests |" in (results / "summary.md").read_text()


def test_no_rerun_makes_the_flaky_patch_fail(
    tmp_path: Path, harness_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _setup(tmp_path, harness_repo, monkeypatch)
    _, data, results = check(
        tmp_path,
        harness_repo,
        mbox=tmp_path / "p.mbox",
        kernel_tree=tree,
        per_patch_tests=True,
        rerun_failures=False,
        accel="tcg",
    )
    s = statuses(data)
    assert [s[(n, "vm-tests")] for n in (1, 2, 3)] == ["pass", "fail", "fail"]
    assert len((results / "boots").read_text().split()) == 3


def test_per_patch_tests_is_off_by_default_and_refused_without_builds(
    tmp_path: Path, harness_repo: Path
) -> None:
    from harness.cli import make_parser

    args = make_parser().parse_args(["check", "--series", "x"])
    assert args.per_patch_tests is False and args.rerun_failures is True
    box = write_mbox(tmp_path / "p.mbox", patch(1, 1, "a: b", new_file("a.c", ["x"])))
    opts = CheckOptions(mbox=box, no_build=True, per_patch_tests=True, results_root=tmp_path / "r")
    code = run_check(opts, harness_repo, CacheLayout(tmp_path / "c"), host_check=lambda s: None)
    assert code == ExitCode.USAGE
