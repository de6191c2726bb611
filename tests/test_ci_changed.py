"""CI on a change to patches/: which series it checks (harness.changed_series), and
ci/check-changed-series.sh end to end with a fake harness."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import commit_files, git, init_repo, make_series, patch_text, script

from harness.changed_series import to_check, touched

REPO = Path(__file__).resolve().parent.parent


def test_touched_series_directories() -> None:
    paths = ["patches/a/0001-x.patch", "patches/a/series.toml", "patches/README", "ci/x.sh"]
    assert touched([*paths, "patches/b/0002-y.patch"]) == ["a", "b"]


def test_dependents_come_along_removed_and_empty_are_noted(harness_repo: Path) -> None:
    one = {"0001-x.patch": patch_text("x")}
    make_series(harness_repo, "base", patches=one)
    make_series(harness_repo, "top", depends_on=("base",), patches=one)
    make_series(harness_repo, "other", patches=one)
    make_series(harness_repo, "empty", depends_on=("base",))
    names, notes = to_check(
        ["patches/base/0001-x.patch", "patches/gone/0001-y.patch"], harness_repo
    )
    assert names == ["base", "top"]
    assert "gone: removed, nothing to check" in notes
    assert "empty: no patches, nothing to check" in notes
    assert "top: depends on base" in notes


def test_a_broken_manifest_that_changed_is_checked(harness_repo: Path) -> None:
    d = harness_repo / "patches" / "bad"
    d.mkdir()
    (d / "series.toml").write_text("name = \n")
    names, _ = to_check(["patches/bad/series.toml"], harness_repo)
    assert names == ["bad"]


def _checkout(tmp_path: Path) -> Path:
    """A checkout of a harness repo with the script, a venv whose harness is a fake
    (exit 1 for series 'failing') and whose python is this one, on PYTHONPATH."""
    repo = tmp_path / "checkout"
    init_repo(repo, {"kernel-config/base.config": "CONFIG_NET=y\n", "selftests/.keep": ""})
    (repo / "ci").mkdir()
    shutil.copy(REPO / "ci" / "check-changed-series.sh", repo / "ci")
    one = {"0001-x.patch": patch_text("x")}
    for name in ("a", "failing", "quiet"):
        make_series(repo, name, patches=one)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "series")
    git(repo, "branch", "base")
    venv = repo / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    script(
        venv / "harness",
        f'echo "$@" >> {tmp_path}/calls\n'
        'case "$*" in *"--series failing"*) exit 1;; esac\n'
        "r=$(date +%s%N); mkdir -p results/$r && ln -sfn $r results/latest\n"
        'echo "## summary" > results/$r/summary.md\n',
    )
    return repo


def _run(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    ci = ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_DIFF_BASE_SHA", "GITHUB_ACTIONS")
    full = {k: v for k, v in os.environ.items() if k not in ci}
    full.update(PYTHONPATH=str(REPO), HARNESS_REPO=str(repo), **env)
    return subprocess.run(
        ["bash", str(repo / "ci" / "check-changed-series.sh"), *args],
        cwd=repo,
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )


def test_script_checks_the_changed_series_worst_exit(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    commit_files(
        repo,
        {"patches/a/0002-y.patch": patch_text("y"), "patches/failing/series.toml": "x"},
        "change",
    )
    git(repo, "checkout", "-q", "-b", "topic")
    summary = tmp_path / "step-summary.md"
    proc = _run(repo, "base", GITHUB_STEP_SUMMARY=str(summary))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "check --series a --results-dir results",
        "check --series failing --results-dir results",
    ]
    assert "check-changed-series: failing exit 1" in proc.stdout
    assert summary.read_text() == "## summary\n"  # a's; failing wrote none


def test_script_base_from_the_ci_and_nothing_changed(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    commit_files(repo, {"README.md": "x"}, "docs only")
    proc = _run(repo, GITHUB_BASE_REF="main", HARNESS_CHECK_ARGS="--no-build")
    assert proc.returncode == 0, proc.stderr
    assert "no series changed since origin/main" in proc.stdout
    commit_files(repo, {"patches/quiet/0002-y.patch": patch_text("y")}, "quiet")
    proc = _run(repo, GITHUB_BASE_REF="main", HARNESS_CHECK_ARGS="--no-build")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "calls").read_text() == (
        "check --series quiet --results-dir results --no-build\n"
    )


def test_script_refuses_an_unknown_base(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    proc = _run(repo, "nosuchref")
    assert proc.returncode == 2
    assert "fetch-depth 0" in proc.stderr


def test_ci_yaml_only_calls_the_script() -> None:
    import yaml

    gh = yaml.safe_load((REPO / "ci/github/check.yml").read_text())
    steps = gh["jobs"]["check"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert any(r.startswith("ci/check-changed-series.sh") for r in runs)
    assert gh[True]["pull_request"]["paths"] == ["patches/**"]  # YAML 1.1: on is True
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache"))
    assert "~/.cache/xdp-harness/ccache" in cache["with"]["path"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "results/" and upload["if"] == "always()"
    gl = yaml.safe_load((REPO / "ci/gitlab/check.gitlab-ci.yml").read_text())["harness-check"]
    assert any(r.startswith("ci/check-changed-series.sh") for r in gl["script"])
    assert gl["artifacts"]["paths"] == ["results/"]
    assert ".cache/xdp-harness/ccache" in gl["cache"]["paths"]
