"""The `harness` command line on a throwaway repository (HARNESS_REPO)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from helpers import make_series, patch_text

from harness import cli
from harness.cli import main, tools_on_path


@pytest.fixture
def repo(harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_series(harness_repo, "baseline", selftests=("baseline",), description="The base kernel")
    make_series(
        harness_repo,
        "xdp-meta",
        depends_on=("baseline",),
        config=("xdp.config",),
        selftests=("baseline", "xdp_meta"),
        description="XDP metadata",
        patches={
            "0002-veth-use-it.patch": patch_text("[PATCH 2/2] veth: use the metadata"),
            "0001-xdp-add-meta.patch": patch_text("[PATCH 1/2] xdp: add metadata kfuncs"),
            "0000-cover-letter.patch": patch_text("[PATCH 0/2] XDP metadata"),
        },
    )
    monkeypatch.setenv("HARNESS_REPO", str(harness_repo))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return harness_repo


def test_list(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "baseline: The base kernel",
        "  base 6.12.117; depends on: none; config: base.config; selftests: baseline",
        "  (no patches)",
        "xdp-meta: XDP metadata",
        "  base 6.12.117; depends on: baseline; config: base.config, xdp.config; "
        "selftests: baseline, xdp_meta",
        "  0001-xdp-add-meta.patch: xdp: add metadata kfuncs",
        "  0002-veth-use-it.patch: veth: use the metadata",
    ]


def test_list_names_the_bpf_selftests(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (repo / "patches/baseline/series.toml").open("a") as f:
        f.write('bpf-selftests = ["xdp_attach", "test_xdp_veth"]\n')
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:4] == [
        "  base 6.12.117; depends on: none; config: base.config; selftests: baseline",
        "  bpf-selftests: xdp_attach, test_xdp_veth",
        "  (no patches)",
    ]
    assert sum("bpf-selftests" in line for line in out) == 1


def test_list_reports_a_broken_manifest(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "patches" / "xdp-meta" / "series.toml").write_text('name = "other"\n')
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "does not match its directory 'xdp-meta'" in err
    assert 'fix: set name = "xdp-meta"' in err


@pytest.mark.parametrize("command", ["run", "build", "test", "bench"])
def test_unknown_series_exit_2_with_known_names(
    repo: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main([command, "--series", "xdp-mta"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "error: unknown series 'xdp-mta'\n"
        "  fix: known series: baseline, xdp-meta; see `harness list`\n"
    )
    assert not (repo / "results").exists()


def test_comma_separated_series_are_split(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--series", "baseline, nope"]) == 2
    assert "unknown series 'nope'" in capsys.readouterr().err


def test_no_series_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "error: no series given" in err
    assert "--series NAME" in err


def test_all_with_series_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--all", "--series", "baseline"])
    assert info.value.code == 2
    assert "--all and --series exclude each other" in capsys.readouterr().err


def test_unknown_accel_rejected_by_the_parser(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--series", "baseline", "--accel", "hvf"])
    assert info.value.code == 2
    assert "invalid choice: 'hvf'" in capsys.readouterr().err


def test_outside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import harness.paths

    monkeypatch.setattr(harness.paths, "__file__", str(tmp_path / "site" / "harness" / "p.py"))
    monkeypatch.chdir(tmp_path)
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert "cannot find the harness repository" in err
    assert "HARNESS_REPO=" in err


def test_bench_measures_a_series_against_baseline_not_baseline_itself(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--series", "baseline"]) == 2
    assert "is what the patched kernel is compared with" in capsys.readouterr().err
    assert main(["bench", "--series", "xdp-meta", "--runs", "0"]) == 2
    assert "--runs must be at least 1, got 0" in capsys.readouterr().err
    assert not (repo / "results").exists()


def test_tools_on_path_puts_the_interpreters_directory_first() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    tools_on_path(env)
    bindir = str(Path(sys.executable).parent)
    assert env["PATH"].split(os.pathsep) == [bindir, "/usr/bin", "/bin"]
    tools_on_path(env)  # idempotent
    assert env["PATH"].split(os.pathsep).count(bindir) == 1


def test_main_leaves_path_and_sigterm_as_it_found_them(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    bindir = str(Path(sys.executable).parent)
    seen: list[tuple[str, object]] = []

    def fake_list(_repo: Path) -> int:
        seen.append((os.environ["PATH"], signal.getsignal(signal.SIGTERM)))
        return 0

    monkeypatch.setattr(cli, "cmd_list", fake_list)
    before = signal.getsignal(signal.SIGTERM)
    assert main(["list"]) == 0
    # during the command: the venv's tools first, SIGTERM ends the run like Ctrl-C
    assert seen == [(os.pathsep.join([bindir, "/usr/bin", "/bin"]), cli._terminated)]
    # after it: as before
    assert os.environ["PATH"] == "/usr/bin:/bin"
    assert signal.getsignal(signal.SIGTERM) is before


def test_list_names_the_tools(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (repo / "patches/xdp-meta/series.toml").open("a") as f:
        f.write('tools = ["bpftool"]\n')
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out.count("  tools: bpftool") == 1
    assert out.index("  tools: bpftool") == out.index("xdp-meta: XDP metadata") + 2


def test_list_names_the_kselftests(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (repo / "patches/baseline/series.toml").open("a") as f:
        f.write('kselftests = ["net:nl_netdev.py", "drivers/net:ping.py"]\n')
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:4] == [
        "  base 6.12.117; depends on: none; config: base.config; selftests: baseline",
        "  kselftests: net:nl_netdev.py, drivers/net:ping.py",
        "  (no patches)",
    ]


def test_check_patches_all_checks_every_series_with_patches(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--all checks each series that has patches (not only the last of the stack), on
    top of its dependencies; the exit code is the gravest of theirs."""
    from harness.errors import ExitCode
    from harness.pipeline import Pipeline

    make_series(
        repo,
        "xdp-other",
        depends_on=("baseline",),
        selftests=("baseline",),
        description="another series",
        patches={"0001-x.patch": patch_text("[PATCH] xdp: other")},
    )
    checked: list[list[str]] = []
    codes = {"xdp-meta": ExitCode.FAILED, "xdp-other": ExitCode.OK}

    def fake_check(p: Pipeline) -> ExitCode:
        names = [s.name for s in p.stack]
        checked.append(names)
        return codes[names[-1]]

    monkeypatch.setattr(cli, "check_patches", fake_check)
    assert main(["check-patches", "--all"]) == int(ExitCode.FAILED)
    assert sorted(checked) == [["baseline", "xdp-meta"], ["baseline", "xdp-other"]]
    out = capsys.readouterr().out
    assert "check-patches xdp-meta: exit 1" in out
    assert "check-patches xdp-other: exit 0" in out

    codes["xdp-other"] = ExitCode.USAGE
    checked.clear()
    assert main(["check-patches", "--all"]) == int(ExitCode.USAGE)


def test_shared_options_mean_the_same_in_every_command() -> None:
    """--accel, --kernel-tree, --boot-timeout, --verbose, --results-dir: one
    definition each (harness.cli_args), so every command that has one offers the same
    choices and explains it in --help."""
    sub = next(a for a in cli.make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    seen: dict[str, list[str]] = {}
    for command, parser in sub.choices.items():
        for action in parser._actions:
            for opt in ("--accel", "--kernel-tree", "--boot-timeout", "--verbose", "--results-dir"):
                if opt in action.option_strings:
                    seen.setdefault(opt, []).append(command)
                    assert action.help, f"{command} {opt} has no help"
                    if opt == "--accel":
                        assert tuple(action.choices or ()) == ("auto", "kvm", "tcg"), command
    assert {opt: len(cmds) >= 2 for opt, cmds in seen.items()} == dict.fromkeys(seen, True)
    assert {"run", "test", "shell", "bench", "bisect", "proofs", "reproduce"} <= set(
        seen["--accel"]
    )


def test_costs_of_a_run_per_test_file_of_every_series(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "selftests/baseline/test_a.py").write_text("")
    (repo / "selftests/xdp_meta/test_m.py").write_text("")
    run = tmp_path / "results/20261204-120000-xdp-meta"
    run.mkdir(parents=True)
    tests = [
        {"name": "selftests.baseline.test_a::t1", "duration": 1.5},
        {"name": "selftests.baseline.test_a::t2", "duration": 2.0},
        {"name": "selftests.xdp_meta.test_m::t", "duration": 4.0},
    ]
    data = {"run_id": run.name, "series": ["xdp-meta"], "tests": tests}
    (run / "results.json").write_text(json.dumps(data))
    assert main(["costs", str(run)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run"] == run.name
    assert doc["costs"] == {
        "selftests/baseline/test_a.py": 3.5,
        "selftests/xdp_meta/test_m.py": 4.0,
    }
    (run / "results.json").write_text(json.dumps({**data, "tests": []}))
    assert main(["costs", str(run)]) == 2
    assert "no tests in its results" in capsys.readouterr().err
    bad = [{"name": "selftests.baseline.test_a::t1", "duration": "slow"}]
    (run / "results.json").write_text(json.dumps({**data, "tests": bad}))
    assert main(["costs", str(run)]) == 2
    assert "a test without a name or duration" in capsys.readouterr().err
