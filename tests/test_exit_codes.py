"""Exit codes through the real entry points (Pipeline.execute, check_patches, main):
unexpected exceptions, pytest's own exit status, a build broken by a patch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import (
    KERNEL_MAKEFILE,
    built_stack,
    commit_files,
    fake_vng,
    git,
    init_repo,
    make_series,
    script,
)

from harness import patchcheck
from harness.check_patches import check_patches
from harness.errors import ExitCode
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline

JUNIT_PASS = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="1">'
    '<testcase classname="selftests.baseline.test_x" name="test_ok" time="0.5"/>'
    "</testsuite></testsuites>"
)


def no_host_check(stages: object) -> None:
    """Every tool present: the tests do not depend on what this host has installed."""


@pytest.fixture
def repo(harness_repo: Path) -> Path:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    return harness_repo


def _test_pipeline(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guest: str, keyword: str = ""
) -> Pipeline:
    """`harness test --series baseline` on a kernel that looks built, with a fake vng."""
    tree, cache, _ = built_stack(tmp_path, "baseline")
    fake_vng(tmp_path / "bin", guest)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    opts = Options(
        command="test",
        series=["baseline"],
        kernel_tree=tree,
        accel="tcg",
        timeout=30,
        boot_timeout=30,
        keyword=keyword or None,
        results_root=tmp_path / "results",
    )
    return Pipeline(opts, repo, cache, host_check=no_host_check)


def _results(p: Pipeline) -> dict[str, object]:
    data: dict[str, object] = json.loads((p.results / "results.json").read_text())
    return data


# -- anything that is not a HarnessError: exit 3, results still written ----------------


def test_corrupt_state_file_in_apply_is_exit_3_with_the_report_written(
    repo: Path, tmp_path: Path
) -> None:
    tree, cache, key = built_stack(tmp_path, "baseline")
    cache.worktree_state(key).write_text('{"digest": "abc", "he')  # cut short
    opts = Options(
        command="build", series=["baseline"], kernel_tree=tree, results_root=tmp_path / "res"
    )
    p = Pipeline(opts, repo, cache, host_check=no_host_check)
    assert p.execute() == ExitCode.INFRA
    data = _results(p)
    assert data["exit_code"] == 3
    assert data["verdict"] == "ERROR: infrastructure"
    assert str(data["error"]).startswith("unexpected JSONDecodeError: ")
    traceback = p.results / "traceback.txt"
    assert f"the traceback is in {traceback}" in str(data["error"])
    assert "harness/apply.py" in traceback.read_text()
    assert (p.results / "summary.txt").read_text().endswith("ERROR: infrastructure (exit 3)\n")


def test_junit_that_is_not_xml_is_exit_3(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guest = (
        "echo 'harness-guest: start'\n"
        "echo '<testsuites><testcase' > \"$RES/junit.xml\"\n"
        "echo 'harness-guest: pytest exit 0'\n"
    )
    p = _test_pipeline(repo, tmp_path, monkeypatch, guest)
    assert p.execute() == ExitCode.INFRA
    data = _results(p)
    assert data["exit_code"] == 3
    assert str(data["error"]).startswith("unexpected ParseError: ")


def test_cli_turns_an_unexpected_exception_into_exit_3(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness import cli

    def broken(self: Pipeline) -> ExitCode:
        raise OSError(28, "No space left on device")

    monkeypatch.setenv("HARNESS_REPO", str(repo))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cli.Pipeline, "execute", broken)
    assert cli.main(["run", "--series", "baseline"]) == 3
    err = capsys.readouterr().err
    assert "error: unexpected OSError: [Errno 28] No space left on device" in err
    assert "Traceback" in err


# -- pytest's own exit status ------------------------------------------------------------


def test_pytest_usage_error_is_exit_2_not_no_tests_ran(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guest = (
        "echo 'harness-guest: start'\n"
        "echo \"ERROR: Wrong expression passed to '-k': xdp and: at column 8: expected not "
        'OR left parenthesis OR identifier; got end of input"\n'
        "echo 'harness-guest: pytest exit 4'\n"
    )
    p = _test_pipeline(repo, tmp_path, monkeypatch, guest, keyword="xdp and")
    assert p.execute() == ExitCode.USAGE
    data = _results(p)
    assert data["exit_code"] == 2
    assert data["verdict"] == "ERROR: bad usage or input"
    assert "pytest exit 4, usage error" in str(data["error"])
    assert "ERROR: Wrong expression passed to '-k': xdp and" in str(data["error"])


def test_pytest_internal_error_is_exit_3(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guest = (
        "echo 'harness-guest: start'\n"
        "echo 'INTERNALERROR> KeyError: xdp_selftest_plugin'\n"
        "echo 'harness-guest: pytest exit 3'\n"
    )
    p = _test_pipeline(repo, tmp_path, monkeypatch, guest)
    assert p.execute() == ExitCode.INFRA
    data = _results(p)
    assert "pytest exit 3" in str(data["error"])
    assert "INTERNALERROR> KeyError: xdp_selftest_plugin" in str(data["error"])


def test_a_keyword_that_selects_nothing_is_exit_2(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guest = "echo 'harness-guest: start'\necho 'harness-guest: pytest exit 5'\n"
    p = _test_pipeline(repo, tmp_path, monkeypatch, guest, keyword="no_such_test")
    assert p.execute() == ExitCode.USAGE
    assert "-k 'no_such_test' selected no tests" in str(_results(p)["error"])


def test_no_tests_without_a_keyword_still_fails_the_run(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guest = "echo 'harness-guest: start'\necho 'harness-guest: pytest exit 5'\n"
    p = _test_pipeline(repo, tmp_path, monkeypatch, guest)
    assert p.execute() == ExitCode.FAILED
    assert _results(p)["verdict"] == "FAIL: no tests ran"


def test_passing_guest_through_execute(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guest = (
        "echo 'harness-guest: start'\n"
        f"echo '{JUNIT_PASS}' > \"$RES/junit.xml\"\n"
        "echo 'harness-guest: pytest exit 0'\n"
    )
    p = _test_pipeline(repo, tmp_path, monkeypatch, guest)
    assert p.execute() == ExitCode.OK
    assert _results(p)["verdict"] == "PASS: 1 tests passed, no splats"


# -- a build broken by a patch: one code in run and check-patches ------------------------

FAKE_MAKE = (
    'for a in "$@"; do case "$a" in O=*) O="${a#O=}";; KCONFIG_ALLCONFIG=*) '
    'ALL="${a#KCONFIG_ALLCONFIG=}";; esac; done\n'
    'case "$*" in *allnoconfig*) cp "$ALL" "$O/.config"; exit 0;; esac\n'
    'echo "  CC      net/core/xdp.o"\n'
    "echo \"net/core/xdp.c:2:1: error: expected ';' before '}' token\"\n"
    'echo "make[4]: *** [scripts/Makefile.build:229: net/core/xdp.o] Error 1"\n'
    "exit 2\n"
)


@pytest.fixture
def broken_series(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A series whose one patch applies but does not compile; a fake make that says so."""
    tree = tmp_path / "linux"
    base = init_repo(tree, {"Makefile": KERNEL_MAKEFILE, "net/core/xdp.c": "int x;\n"})
    commit_files(tree, {"net/core/xdp.c": "int x;\nint y\n"}, "xdp: add y")
    d = make_series(repo, "broken", depends_on=("baseline",))
    git(tree, "format-patch", "-q", "-o", str(d), f"{base}..HEAD")
    git(tree, "reset", "-q", "--hard", base)
    (tmp_path / "bin").mkdir()
    script(tmp_path / "bin" / "make", FAKE_MAKE)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    clean = patchcheck.CheckpatchResult(0, 0, 0, "")
    monkeypatch.setattr(patchcheck, "checkpatch", lambda *args: clean)
    return tree


def _broken(repo: Path, tmp_path: Path, tree: Path, command: str) -> Pipeline:
    opts = Options(
        command=command, series=["broken"], kernel_tree=tree, results_root=tmp_path / "res"
    )
    return Pipeline(opts, repo, CacheLayout(tmp_path / "cache"), host_check=no_host_check)


def test_a_patch_that_breaks_the_build_is_exit_2_in_run(
    repo: Path, tmp_path: Path, broken_series: Path
) -> None:
    p = _broken(repo, tmp_path, broken_series, "run")
    assert p.execute() == ExitCode.USAGE
    data = _results(p)
    assert data["verdict"] == "ERROR: bad usage or input"
    assert "net/core/xdp.c:2:1: error: expected ';'" in str(data["error"])


def test_a_patch_that_breaks_the_build_is_exit_2_in_check_patches(
    repo: Path, tmp_path: Path, broken_series: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = _broken(repo, tmp_path, broken_series, "check-patches")
    assert check_patches(p) == ExitCode.USAGE
    (patch,) = json.loads((p.results / "patches.json").read_text())
    assert not patch["built"]
    assert "error: expected ';'" in patch["build_error"]
    out = capsys.readouterr().out
    assert "BUILD FAILED" in out
    assert out.rstrip().endswith("FAIL (exit 2)")
