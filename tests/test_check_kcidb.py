"""kcidb.json: the check's results as KCIDB data, valid against the schema kcidb-io
(a dev dependency) has as its latest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kcidb_io import schema
from mboxes import good_series, write_mbox

from harness import check_kcidb
from harness.check_intake import CheckOptions
from harness.check_kcidb import KcidbInput, build_kcidb, kcidb_path, patchset_hash
from harness.check_posting import run_check
from harness.check_report import CheckReport, PatchRow
from harness.checks import failed, passed, skipped, warned
from harness.paths import CacheLayout
from harness.report import TestResult as Result

BASE = "0123456789abcdef0123456789abcdef01234567"


def _report() -> CheckReport:
    r = CheckReport("20260101-000000-check-demo", "demo.mbox", 3, base="x")
    r.rows = [
        PatchRow(0, "the series", results=[passed("cover-letter"), warned("tree", "no tree")]),
        PatchRow(
            1,
            "net: one",
            results=[passed("applies"), passed("builds"), warned("checkpatch", "1 CHECK", "l")],
        ),
        PatchRow(
            2,
            "net: two",
            results=[
                passed("applies"),
                failed("builds", "1 new W=1 warning(s)", "a.c: warning: x"),
                passed("signed-off-by"),
            ],
        ),
        PatchRow(
            3,
            "net: three",
            results=[failed("applies", "does not apply", "error: a.c"), skipped("builds", "no")],
        ),
    ]
    r.decide()
    return r


def _given(**kw: Any) -> KcidbInput:
    patches = [(n, f"patch {n}\n", f"<patch-{n}@example.org>") for n in (1, 2, 3)]
    return KcidbInput("2026-01-01T00:00:00+00:00", patches, BASE, ("xdp.config",), **kw)


def test_document_is_valid_and_shaped_per_patch() -> None:
    vm = {
        2: [
            Result("selftests.baseline.test_x::test_ok[a-b]", "passed", 0.5),
            Result("selftests.baseline.test_x::test_flaky", "flaky", 1.0, "boom"),
            Result("selftests.baseline.test_x::test_bad", "failed", 1.0, "assert 0"),
        ]
    }
    data = build_kcidb(_report(), _given(vm_tests=vm))
    schema.LATEST.validate_exactly(data)
    assert data["version"] == {"major": schema.LATEST.major, "minor": schema.LATEST.minor}
    assert [c["id"] for c in data["checkouts"]] == [
        f"xdp_harness:20260101-000000-check-demo:p{n:02d}" for n in (1, 2, 3)
    ]
    assert [c.get("valid") for c in data["checkouts"]] == [True, True, False]
    assert data["checkouts"][0]["git_commit_hash"] == BASE
    assert data["checkouts"][1]["patchset_hash"] == patchset_hash(["patch 1\n", "patch 2\n"])
    assert data["checkouts"][0]["message_id"] == "patch-1@example.org"
    assert [b["status"] for b in data["builds"]] == ["PASS", "FAIL", "SKIP"]
    assert data["builds"][0]["config_name"] == "base.config+xdp.config"
    assert all(x["origin"] == "xdp_harness" for k in data if k != "version" for x in data[k])
    tests = {(t["build_id"].split(":")[-2], t["path"]): t for t in data["tests"]}
    assert tests[("p01", "check.checkpatch")]["status"] == "PASS"
    assert tests[("p01", "check.checkpatch")]["misc"]["harness_status"] == "warn"
    assert tests[("p02", "check.builds")]["status"] == "FAIL"
    assert tests[("p03", "check.builds")]["status"] == "SKIP"
    assert tests[("p03", "check.series.cover-letter")]["status"] == "PASS"  # last build
    flaky = tests[("p02", "vm.selftests.baseline.test_x.test_flaky")]
    assert flaky["status"] == "PASS" and flaky["misc"]["flaky"] is True
    assert tests[("p02", "vm.selftests.baseline.test_x.test_bad")]["status"] == "FAIL"
    assert ("p02", "vm.selftests.baseline.test_x.test_ok_a-b") in tests
    assert len({t["id"] for t in data["tests"]}) == len(data["tests"])


def test_an_error_before_any_check_still_makes_a_valid_document() -> None:
    r = CheckReport("run", "bad.mbox", 0, error="missing 2/3")
    r.decide()
    data = build_kcidb(r, KcidbInput("2026-01-01T00:00:00+00:00"))
    schema.LATEST.validate_exactly(data)
    assert data["builds"] == [] and data["checkouts"][0]["id"] == "xdp_harness:run"


@pytest.mark.parametrize(
    ("node", "path"),
    [
        (
            "selftests.feature_flags.test_xdp::test_a[veth-drv]",
            "selftests.feature_flags.test_xdp.test_a_veth-drv",
        ),
        (
            "kselftest/net/nl_netdev.py::nl_netdev.lo_check",
            "kselftest.net.nl_netdev.nl_netdev.lo_check",
        ),
        ("::", "unnamed"),
    ],
)
def test_paths_are_dotted_names(node: str, path: str) -> None:
    assert kcidb_path(node) == path


def test_invalid_data_is_a_note_not_an_exception() -> None:
    note = check_kcidb.validate({"version": {"major": 5, "minor": 3}, "builds": [{"id": "x"}]})
    assert note is not None and "does not validate" in note


def test_missing_kcidb_io_is_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "kcidb_io", None)
    assert check_kcidb.validate({}) == (
        "kcidb.json not validated: the kcidb-io package is not installed"
    )


def test_check_run_writes_kcidb_json(tmp_path: Path, harness_repo: Path) -> None:
    """An mbox checked without a tree: kcidb.json beside check.json, valid."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "checkpatch.pl").write_text(
        'print "total: 0 errors, 0 warnings, 0 checks, 1 lines checked\\n";\n'
    )
    box = write_mbox(tmp_path / "good.mbox", *good_series())
    opts = CheckOptions(mbox=box, no_build=True, scripts=scripts, results_root=tmp_path / "results")
    run_check(opts, harness_repo, CacheLayout(tmp_path / "cache"), host_check=lambda s: None)
    results = (tmp_path / "results" / "latest").resolve()
    data = json.loads((results / "kcidb.json").read_text())
    schema.LATEST.validate_exactly(data)
    assert len(data["builds"]) == 3
    assert {b["status"] for b in data["builds"]} == {"SKIP"}  # --no-build
    check = json.loads((results / "check.json").read_text())
    assert not any("kcidb" in n for n in check["notes"])
