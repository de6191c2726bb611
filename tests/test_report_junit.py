"""parse_junit on the junit.xml of a real pytest run (pass, fail, skip, error, class)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report import TestResult as Result
from harness.report import parse_junit

TINY_SUITE = """
import pytest


@pytest.fixture
def broken_netns():
    raise RuntimeError("cannot create netns xdp0")


def test_pass():
    assert 1 + 1 == 2


def test_fail():
    assert 1 + 1 == 3, "XDP_DROP counter is 0, expected 64"


@pytest.mark.skip(reason="needs a NIC with XDP_REDIRECT")
def test_skip():
    pass


def test_error(broken_netns):
    pass


class TestVerdicts:
    def test_in_class(self):
        pass
"""


@pytest.fixture(scope="module")
def junit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("junit")
    (d / "test_tiny.py").write_text(TINY_SUITE)
    xml = d / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--rootdir={d}",
            f"--junitxml={xml}",
            "test_tiny.py",
        ],
        cwd=d,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # 1: tests failed
    return xml


def _by_name(results: list[Result]) -> dict[str, Result]:
    return {r.name: r for r in results}


def test_every_testcase_once_with_classname(junit: Path) -> None:
    results = parse_junit(junit)
    assert sorted(r.name for r in results) == [
        "test_tiny.TestVerdicts::test_in_class",
        "test_tiny::test_error",
        "test_tiny::test_fail",
        "test_tiny::test_pass",
        "test_tiny::test_skip",
    ]


def test_outcomes(junit: Path) -> None:
    r = _by_name(parse_junit(junit))
    assert r["test_tiny::test_pass"].outcome == "passed"
    assert r["test_tiny::test_fail"].outcome == "failed"
    assert r["test_tiny::test_skip"].outcome == "skipped"
    assert r["test_tiny::test_error"].outcome == "error"
    assert r["test_tiny.TestVerdicts::test_in_class"].outcome == "passed"


def test_messages(junit: Path) -> None:
    r = _by_name(parse_junit(junit))
    assert r["test_tiny::test_pass"].message == ""
    assert "XDP_DROP counter is 0, expected 64" in r["test_tiny::test_fail"].message
    assert r["test_tiny::test_skip"].message == "needs a NIC with XDP_REDIRECT"
    assert "cannot create netns xdp0" in r["test_tiny::test_error"].message


def test_durations_are_seconds(junit: Path) -> None:
    for r in parse_junit(junit):
        assert isinstance(r.duration, float)
        assert 0.0 <= r.duration < 10.0


def test_missing_time_attribute_is_zero(tmp_path: Path) -> None:
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="s">'
        '<testcase classname="m" name="t"/>'
        '<testcase classname="m" name="u" time=""><failure>boom\ntrace</failure></testcase>'
        "</testsuite></testsuites>"
    )
    assert parse_junit(xml) == [
        Result("m::t", "passed", 0.0, ""),
        Result("m::u", "failed", 0.0, "boom\ntrace"),
    ]
