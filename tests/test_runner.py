"""Runner and CommandLog: errors name the command; the log replays the run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.errors import ExitCode, InfraError
from harness.runner import CommandLog, Runner


def test_log_records_cwd_env_and_quoting(tmp_path: Path) -> None:
    log = CommandLog()
    line = log.record(
        ["git", "commit", "-m", "two words"], tmp_path / "a b", {"B": "2", "A": "x y"}
    )
    assert line == f"cd '{tmp_path / 'a b'}' && A='x y' B=2 git commit -m 'two words'"
    log.record(["true"])
    out = tmp_path / "commands.sh"
    log.write(out)
    text = out.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert text.endswith(f"{line}\ntrue\n")


def test_written_log_replays(tmp_path: Path) -> None:
    runner = Runner()
    runner.run(["sh", "-c", 'echo "$GREETING" > out.txt'], cwd=tmp_path, env={"GREETING": "hi"})
    (tmp_path / "out.txt").unlink()
    script = tmp_path / "commands.sh"
    runner.log.write(script)
    subprocess.run(["sh", str(script)], check=True)
    assert (tmp_path / "out.txt").read_text() == "hi\n"


def test_run_captures_output_and_env(tmp_path: Path) -> None:
    proc = Runner().run(["sh", "-c", 'echo "$X"; echo err >&2'], env={"X": "42"})
    assert proc.stdout == "42\n"
    assert proc.stderr == "err\n"


def test_failed_command_names_command_and_output() -> None:
    with pytest.raises(InfraError) as info:
        Runner().run(["sh", "-c", "echo out; echo 'fatal: bad revision' >&2; exit 5"])
    err = info.value
    assert err.exit_code == ExitCode.INFRA
    assert err.problem.startswith("command failed (5): sh -c ")
    assert "fatal: bad revision" in err.problem
    assert "out" in err.problem


def test_unchecked_failure_returns_process() -> None:
    assert Runner().run(["sh", "-c", "exit 4"], check=False).returncode == 4


def test_missing_command() -> None:
    with pytest.raises(InfraError) as info:
        Runner().run(["no-such-tool-xdp-harness", "--version"])
    assert info.value.problem == "command not found: no-such-tool-xdp-harness"
    assert info.value.fix == "run ci/setup-host.sh"


def test_git_strips_output(tmp_path: Path) -> None:
    runner = Runner()
    runner.git(tmp_path, "init", "-q")
    assert runner.git(tmp_path, "rev-parse", "--is-inside-work-tree") == "true"
    assert runner.log.lines[0] == f"git -C {tmp_path} init -q"
