"""The guest runner given one guest's share of a run (--jobs): test files (--test), or
only kselftests, and nothing else of the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.kselftests import SELFTESTS
from harness.markers import GUEST_DONE
from harness.report import parse_junit


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two test files in a suite; and, where pytest looks without a path (testpaths),
    a test that must never run in a guest."""
    repo = tmp_path / "repo"
    suite = repo / "selftests" / "s"
    suite.mkdir(parents=True)
    (suite / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef where():\n    return 's'\n"
    )
    (suite / "test_a.py").write_text("def test_a(where):\n    assert where == 's'\n")
    (suite / "test_b.py").write_text("def test_b():\n    pass\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_trap.py").write_text("def test_trap():\n    assert False\n")
    (repo / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    tree = tmp_path / "src" / SELFTESTS / "net"
    tree.mkdir(parents=True)
    (tree / "k.sh").write_text("#!/bin/sh\necho 'TAP version 13'\necho 1..1\necho 'ok 1 one'\n")
    return repo


def _guest(repo: Path, *args: str) -> tuple[list[str], str]:
    results = repo.parent / "results"
    results.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "harness.guest", "--results", str(results)]
    cmd += ["--bpf-objdir", str(repo.parent), "--kernel-tree", str(repo.parent / "src"), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    return [t.name for t in parse_junit(results / "junit.xml")], output


def test_test_files_run_with_their_suites_conftest(repo: Path) -> None:
    names, output = _guest(repo, "--test", "selftests/s/test_a.py", "--kselftest", "net:k.sh")
    assert names == ["selftests.s.test_a::test_a", "kselftest.net.k.sh", "kselftest.net.k.sh::one"]
    assert f"{GUEST_DONE}0" in output


def test_only_kselftests_collect_nothing_else(repo: Path) -> None:
    names, output = _guest(repo, "--kselftest", "net:k.sh")
    assert names == ["kselftest.net.k.sh", "kselftest.net.k.sh::one"], output
    assert "test_trap" not in output
    assert "\nkselftest/net/k.sh::one PASSED" in output  # named as with the suites
    assert f"{GUEST_DONE}0" in output


def test_nothing_to_run_is_refused(repo: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.guest", "--results", str(repo), "--bpf-objdir", "/o"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "nothing to run: give --suite, --test or --kselftest" in proc.stderr


def test_units_come_from_a_file(repo: Path) -> None:
    units = repo.parent / "units.json"
    units.write_text('{"tests": ["selftests/s/test_b.py"], "kselftests": ["net:k.sh"]}')
    names, output = _guest(repo, "--units", str(units))
    assert names == ["selftests.s.test_b::test_b", "kselftest.net.k.sh", "kselftest.net.k.sh::one"]
    assert f"{GUEST_DONE}0" in output
