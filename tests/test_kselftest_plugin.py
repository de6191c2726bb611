"""The guest runner with kselftests: each KTAP result a test in junit.xml; a crash, a
nonzero exit without KTAP, a timeout fail the test itself, with its output in a log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import kselftest_plugin
from harness.kselftests import SELFTESTS
from harness.markers import GUEST_DONE
from harness.report import TestResult as Result
from harness.report import parse_junit

GOOD = """\
import os, sys
import yaml  # what net/lib/py and the tree's ynl need, from the harness's interpreter
print("KTAP version 1")
print("1..4")
print("ok 1 good.first")
print("# Check failed 1 != 2")
print("not ok 2 good.second")
print("ok 3 good.third # SKIP no device")
print("ok 4 good.fourth # XFAIL not supported")
assert os.environ["PYTHONUNBUFFERED"] == "1"
sys.exit(1)
"""
TESTS = {
    "net/good.py": GOOD,
    # killed by a signal halfway through its plan
    "net/crash.sh": "#!/bin/sh\necho 'TAP version 13'\necho 1..2\necho 'ok 1 a'\nkill -SEGV $$\n",
    "net/noktap.sh": "#!/bin/sh\necho 'cannot find ip'\nexit 3\n",
    "drivers/net/plain.sh": "#!/bin/sh\necho fine\n",
    "drivers/net/skipall.sh": "#!/bin/sh\necho 'no netdevsim'\nexit 4\n",
    "drivers/net/silent.sh": "#!/bin/sh\nexit 4\n",
    "net/nested.sh": (
        "#!/bin/bash\necho 'KTAP version 1'; echo 1..1\n"
        "echo '    KTAP version 1'; echo '    1..1'; echo '    ok 1 inner'\necho 'ok 1 outer'\n"
    ),
}


def _run_guest(tmp_path: Path, names: list[str], *extra: str) -> tuple[Path, str]:
    tree = tmp_path / "src"
    for rel, text in TESTS.items():
        f = tree / SELFTESTS / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    repo = tmp_path / "repo"
    (repo / "selftests" / "s").mkdir(parents=True, exist_ok=True)
    (repo / "selftests" / "s" / "test_suite.py").write_text("def test_ok():\n    pass\n")
    results = tmp_path / "results"
    results.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "harness.guest", "--results", str(results)]
    cmd += ["--bpf-objdir", str(tmp_path), "--suite", "s", "--kernel-tree", str(tree)]
    for name in names:
        cmd += ["--kselftest", name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [*cmd, *extra], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    return results, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Result]]:
    tmp = tmp_path_factory.mktemp("guest")
    names = [
        "net:good.py",
        "net:crash.sh",
        "net:noktap.sh",
        "drivers/net:plain.sh",
        "drivers/net:skipall.sh",
        "drivers/net:silent.sh",
        "net:nested.sh",
    ]
    results, output = _run_guest(tmp, names)
    tests = {t.name: t for t in parse_junit(results / "junit.xml")}
    return results, output, tests


def test_every_ktap_result_is_a_test(guest: tuple[Path, str, dict[str, Result]]) -> None:
    _, output, tests = guest
    assert {n: t.outcome for n, t in tests.items()} == {
        "selftests.s.test_suite::test_ok": "passed",
        "kselftest.net.good::good.first": "passed",
        "kselftest.net.good::good.second": "failed",
        "kselftest.net.good::good.third": "skipped",
        "kselftest.net.good::good.fourth": "passed",  # XFAIL: kselftest counts it a pass
        "kselftest.net.good": "passed",  # exit 1: its failed result says why
        "kselftest.net.crash.sh::a": "passed",  # junit drops .py only
        "kselftest.net.crash.sh": "failed",
        "kselftest.net.noktap.sh": "failed",
        "kselftest.drivers.net.plain.sh": "passed",
        "kselftest.drivers.net.skipall.sh": "skipped",
        "kselftest.drivers.net.silent.sh": "skipped",
        "kselftest.net.nested.sh::outer/inner": "passed",
        "kselftest.net.nested.sh::outer": "passed",
        "kselftest.net.nested.sh": "passed",
    }, output
    assert f"{GUEST_DONE}1" in output


def test_the_live_lines_name_each_result(guest: tuple[Path, str, dict[str, Result]]) -> None:
    _, output, _ = guest
    assert "kselftest/net/good.py::good.second FAILED" in output
    assert "kselftest/net/good.py::good.third SKIPPED" in output
    assert "kselftest/net/good.py::good.fourth PASSED (KTAP XFAIL)" in output


def test_messages(guest: tuple[Path, str, dict[str, Result]]) -> None:
    results, _, tests = guest
    second = tests["kselftest.net.good::good.second"].message
    # the first line (the summary's) quotes the last diagnostic before the result
    assert second.splitlines()[0] == "not ok 2 good.second  <- # Check failed 1 != 2"
    assert "# Check failed 1 != 2" in second
    assert str(results / "kselftests/net/good.py.log") in second
    assert tests["kselftest.net.good::good.third"].message == "no device"
    # the skip points to its line in the log (the "SKIPPED [1] <log>:<line>" summary)
    log = results / "kselftests/net/good.py.log"
    assert log.read_text().splitlines()[8 - 1] == "ok 3 good.third # SKIP no device"
    assert f"{log}:8: no device" in (results / "junit.xml").read_text()
    assert "exited 4 (KSFT_SKIP)" in tests["kselftest.drivers.net.skipall.sh"].message
    assert tests["kselftest.drivers.net.skipall.sh"].message.endswith(
        "exited 4 (KSFT_SKIP) without KTAP results: no netdevsim"
    )
    assert tests["kselftest.drivers.net.silent.sh"].message.endswith(
        "exited 4 (KSFT_SKIP) without KTAP results"
    )


def test_a_crash_or_an_exit_without_ktap_fails_with_its_log(
    guest: tuple[Path, str, dict[str, Result]],
) -> None:
    results, _, tests = guest
    crash = tests["kselftest.net.crash.sh"].message
    assert "net:crash.sh: killed by signal 11" in crash
    assert str(results / "kselftests/net/crash.sh.log") in crash
    noktap = tests["kselftest.net.noktap.sh"].message
    assert noktap.splitlines()[0].endswith(
        "net:noktap.sh: exited 3 with no KTAP output; its last line: cannot find ip"
    )
    assert "cannot find ip" in noktap
    log = (results / "kselftests/net/noktap.sh.log").read_text().splitlines()
    assert log[0].startswith("# /bin/sh ") and log[0].endswith("/net/noktap.sh")
    assert log[2:] == ["cannot find ip", log[-1]]
    assert log[-1].startswith("# exit 3 after ")


def test_k_selects_a_kselftest(tmp_path: Path) -> None:
    results, output = _run_guest(
        tmp_path, ["drivers/net:plain.sh", "net:noktap.sh"], "--", "-k", "plain"
    )
    assert [t.name for t in parse_junit(results / "junit.xml")] == [
        "kselftest.drivers.net.plain.sh"
    ], output
    assert f"{GUEST_DONE}0" in output


def test_kselftest_needs_the_tree(tmp_path: Path) -> None:
    guest = [sys.executable, "-m", "harness.guest", "--results", str(tmp_path)]
    proc = subprocess.run(
        [*guest, "--bpf-objdir", "/o", "--suite", "s", "--kselftest", "net:a.py"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "--kselftest needs --kernel-tree" in proc.stderr


def test_timeout_kills_the_whole_session(tmp_path: Path) -> None:
    """At the timeout the test and what it started are killed; the lines so far kept."""
    pidfile = tmp_path / "pid"
    script = f"echo 'ok 1 a'; sleep 300 & echo $! > {pidfile}; wait"
    start = time.monotonic()
    run = kselftest_plugin.run_test(
        ["/bin/sh", "-c", script], tmp_path, dict(os.environ), 1.0, tmp_path / "t.log"
    )
    assert time.monotonic() - start < 10
    assert run.returncode is None
    assert run.lines == ("ok 1 a",)
    assert len(run.times) == 1
    assert (
        (tmp_path / "t.log")
        .read_text()
        .splitlines()[-1]
        .startswith("# killed at the timeout after ")
    )
    pid = int(pidfile.read_text())
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists() or "Z" in _state(pid):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the background sleep {pid} survived the timeout")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_env_puts_the_interpreter_first_on_path() -> None:
    env = kselftest_plugin.kselftest_env("/venv/bin/python", {"PATH": "/usr/bin:/bin"})
    assert env["PATH"] == "/venv/bin:/usr/bin:/bin"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
