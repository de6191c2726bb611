"""--rerun-failures with a fake vng: a failed test run again in a fresh guest, flaky
when it passes then, failed when it fails twice; junit as surefire writes reruns."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import fake_vng, make_series

from harness import rerun
from harness.errors import ExitCode
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.report import TestResult as Result
from harness.report import verdict
from harness.shards import Unit


def _junit(*cases: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites>'
        f'<testsuite name="pytest" tests="{len(cases)}" failures="1" errors="0">'
        + "".join(cases)
        + "</testsuite></testsuites>"
    )


OK = '<testcase classname="selftests.baseline.test_x" name="test_ok" time="0.5"/>'
BAD = (
    '<testcase classname="selftests.baseline.test_x" name="test_odd[veth]" time="1.0">'
    '<failure message="assert 0">trace</failure></testcase>'
)
GOOD_AGAIN = '<testcase classname="selftests.baseline.test_x" name="test_odd[veth]" time="1.0"/>'
BAD_AGAIN = (
    '<testcase classname="selftests.baseline.test_x" name="test_odd[veth]" time="1.0">'
    '<failure message="assert 1">trace 2</failure></testcase>'
)


def _guest(first: str, again: str, again_exit: int = 1) -> str:
    """A fake guest: the first boot writes `first`; a boot with rerun/units.json (the
    rerun) writes `again` into rerun/, and counts the boots."""
    # the rerun guest's one writable directory is <results>/rerun
    return (
        'echo boot >> "${RES%/rerun}/boots"\n'
        "echo 'harness-guest: start'\n"
        'if [ "${RES%/rerun}" != "$RES" ] && [ -f "$RES/units.json" ]; then\n'
        f"  echo '{again}' > \"$RES/junit.xml\"\n"
        f"  echo 'harness-guest: pytest exit {again_exit}'\n"
        "else\n"
        f"  echo '{first}' > \"$RES/junit.xml\"\n"
        "  echo 'harness-guest: pytest exit 1'\n"
        "fi\n"
    )


def _run(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, rerun_: bool = True
) -> tuple[ExitCode, Pipeline]:
    make_series(repo, "baseline", selftests=("baseline",))
    (repo / "selftests" / "baseline" / "test_x.py").write_text("def test_ok(): pass\n")
    fake_vng(tmp_path / "bin", body)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    opts = Options(
        command="test",
        series=["baseline"],
        accel="tcg",
        timeout=30,
        boot_timeout=30,
        results_root=tmp_path / "results",
        rerun_failures=rerun_,
    )
    p = Pipeline(opts, repo, CacheLayout(tmp_path / "cache"))
    p.results.mkdir(parents=True)
    build = tmp_path / "build"
    (build / "arch/x86/boot").mkdir(parents=True)
    p.boot_and_test(tmp_path / "src", build)
    code, p.report.verdict = verdict(p.report, allow_skips=False)
    return code, p


def test_fail_then_pass_is_flaky(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, p = _run(harness_repo, tmp_path, monkeypatch, _guest(_junit(OK, BAD), _junit(GOOD_AGAIN)))
    assert (p.results / "boots").read_text().count("boot") == 2
    units = json.loads((p.results / "rerun" / "units.json").read_text())
    assert units == {"tests": ["selftests/baseline/test_x.py::test_odd[veth]"], "kselftests": []}
    assert [t.outcome for t in p.report.tests] == ["passed", "flaky"]
    assert p.report.reruns == {"selftests.baseline.test_x::test_odd[veth]": "passed"}
    assert code == ExitCode.OK
    assert "1 flaky (failed, then passed when run again in a fresh guest)" in p.report.verdict
    data = json.loads(p.report.to_json())
    assert data["counts"]["flaky"] == 1 and data["tests"][1]["outcome"] == "flaky"
    assert "rerun" in data["timings"]
    suite = ET.parse(p.results / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    case = suite.findall("testcase")[1]
    assert case.find("failure") is None
    flaky = case.find("flakyFailure")
    assert flaky is not None and flaky.get("message") == "assert 0"
    assert flaky.findtext("stackTrace") == "trace"
    assert "1 flaky" in p.report.summary_text(p.results)


def test_fail_twice_stays_failed(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, p = _run(harness_repo, tmp_path, monkeypatch, _guest(_junit(OK, BAD), _junit(BAD_AGAIN)))
    assert code == ExitCode.FAILED
    assert [t.outcome for t in p.report.tests] == ["passed", "failed"]
    assert "failed again in a fresh guest: assert 1" in p.report.tests[1].message
    assert p.report.reruns == {"selftests.baseline.test_x::test_odd[veth]": "failed"}
    case = ET.parse(p.results / "junit.xml").getroot().iter("testcase")
    bad = list(case)[1]
    assert bad.find("failure") is not None
    again = bad.find("rerunFailure")
    assert again is not None and again.get("message") == "assert 1"


def test_rerun_guest_that_finds_nothing_leaves_it_failed(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _guest(_junit(OK, BAD), _junit(), again_exit=4)
    code, p = _run(harness_repo, tmp_path, monkeypatch, body)
    assert code == ExitCode.FAILED
    assert p.report.reruns == {"selftests.baseline.test_x::test_odd[veth]": rerun.NOT_RUN}
    assert "not run again: pytest exit 4 in the rerun guest" in p.report.tests[1].message


def test_rerun_splat_counts(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _guest(_junit(OK, BAD), _junit(GOOD_AGAIN)).replace(
        "else\n",  # the end of the rerun guest's branch
        "  echo '[    5.0] WARNING: CPU: 0 PID: 9 at net/core/dev.c:10 f+0x1/0x2'\nelse\n",
        1,
    )
    assert "WARNING" in body
    code, p = _run(harness_repo, tmp_path, monkeypatch, body)
    assert code == ExitCode.FAILED
    assert [(s.kind, s.guest) for s in p.report.splats] == [("WARNING", "rerun")]


def test_off_by_default_in_run(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _guest(_junit(OK, BAD), _junit(GOOD_AGAIN))
    code, p = _run(harness_repo, tmp_path, monkeypatch, body, rerun_=False)
    assert code == ExitCode.FAILED
    assert (p.results / "boots").read_text().count("boot") == 1
    assert Options(command="run").rerun_failures is False
    from harness.cli import make_parser

    assert make_parser().parse_args(["run", "--rerun-failures"]).rerun_failures is True
    assert make_parser().parse_args(["test"]).rerun_failures is False


def test_plan_node_ids_classes_and_kselftests() -> None:
    units = [
        Unit("file", "selftests/s/test_a.py"),
        Unit("kselftest", "net:nl_netdev.py"),
    ]
    tests = [
        Result("selftests.s.test_a.TestC::test_m[x]", "failed", 1.0),
        Result("selftests.s.test_a::test_f", "error", 1.0),
        Result("selftests.s.test_a::test_g", "passed", 1.0),
        Result(f"{units[1].prefix}::nl_netdev.lo_check", "failed", 1.0),
        Result("elsewhere::t", "failed", 1.0),
    ]
    todo = rerun.plan(tests, units)
    assert todo is not None
    assert todo.node_ids == (
        "selftests/s/test_a.py::TestC::test_m[x]",
        "selftests/s/test_a.py::test_f",
        "elsewhere::t",
    )
    assert todo.kselftests == ("net:nl_netdev.py",)
    assert rerun.plan(tests[2:3], units) is None
