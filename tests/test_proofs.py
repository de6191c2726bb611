"""harness proofs: each live proof judged by what its run reported, and run as its own
guest with the proofs suite and the --debug-config kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import proofs
from harness.errors import ExitCode
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.report import RunReport
from tests.helpers import make_series


def _report(code: ExitCode, verdict: str = "", error: str = "") -> RunReport:
    r = RunReport(run_id="r", command="harness proofs", series=["baseline"], suites=["proofs"])
    r.exit_code, r.verdict, r.error = int(code), verdict, error
    return r


def _proof(name: str) -> proofs.Proof:
    return next(p for p in proofs.PROOFS if p.name == name)


def test_a_proof_holds_only_with_its_exit_code_its_words_and_the_console(tmp_path: Path) -> None:
    console = tmp_path / "console.log"
    console.write_text("[ 3.0] WARNING: CPU: 0 PID: 80 at drivers/misc/lkdtm/bugs.c:100\n")
    warning = _proof("warning")
    ok = proofs.judge(
        warning, _report(ExitCode.FAILED, "FAIL: kernel splat(s): WARNING"), console, 1
    )
    assert ok.holds, ok.problems
    wrong_code = proofs.judge(
        warning, _report(ExitCode.INFRA, "kernel splat(s): WARNING"), console, 1
    )
    assert wrong_code.problems == ["exit 3, expected 1"]
    unsaid = proofs.judge(warning, _report(ExitCode.FAILED, "FAIL: 1 failed"), console, 1)
    assert "not said" in unsaid.problems[0]
    lost = proofs.judge(
        warning, _report(ExitCode.FAILED, "kernel splat(s): WARNING"), tmp_path / "gone", 1
    )
    assert lost.problems == [f"no console kept at {tmp_path / 'gone'}"]


def test_every_proof_runs_its_own_guest_and_a_failing_one_fails_the_command(
    tmp_path: Path,
) -> None:
    console = tmp_path / "console.log"
    console.write_text(
        "WARNING: CPU: 0\nKernel panic - not syncing: dumb\nVM killed: run timeout\n"
        "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n"
    )
    said = {
        "warning": _report(ExitCode.FAILED, "FAIL: kernel splat(s): WARNING"),
        "panic": _report(ExitCode.FAILED, "FAIL: kernel splat(s): panic"),
        "hang": _report(ExitCode.INFRA, "ERROR", "VM did not finish within 420s: hung"),
        "bad-cmdline": _report(ExitCode.OK, "PASS"),  # the harness missed it
    }
    seen: list[Options] = []

    def run_one(opts: Options) -> tuple[RunReport, Path]:
        seen.append(opts)
        name = "bad-cmdline" if opts.append else (opts.keyword or "").removeprefix("test_")
        return said[name], console

    base = Options(command="run", series=["xdp-stats"], accel="tcg")
    code, outcomes = proofs.prove(base, [], run_one)
    assert code == ExitCode.FAILED
    assert [o.proof.name for o in outcomes if not o.holds] == ["bad-cmdline"]
    assert all(o.debug_config and o.suites == ["proofs"] and o.jobs == 1 for o in seen)
    assert all(o.series == ["xdp-stats"] for o in seen)
    assert [o.append for o in seen][-1] == ["rootfstype=nonexistentfs"]
    assert seen[2].timeout == 420.0
    assert "| bad-cmdline |" in proofs.table(outcomes)

    code, outcomes = proofs.prove(base, ["warning"], run_one)
    assert code == ExitCode.OK and [o.proof.name for o in outcomes] == ["warning"]


def test_the_proofs_suite_and_the_extra_command_line_reach_the_guest(
    harness_repo: Path, tmp_path: Path
) -> None:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    opts = proofs.options_for(_proof("bad-cmdline"), Options(command="run", series=["baseline"]))
    p = Pipeline(opts, harness_repo, CacheLayout(tmp_path))
    assert p.suites == ["proofs"]
    assert p.opts.debug_config
    spec = p.vm_spec(tmp_path / "bzImage", "tcg", p.guest_view(None))
    assert spec.append[-1] == "rootfstype=nonexistentfs"


@pytest.mark.parametrize("proof", proofs.PROOFS, ids=lambda p: p.name)
def test_the_guest_tests_exist(proof: proofs.Proof) -> None:
    text = (Path(__file__).parents[1] / "selftests/proofs/test_proofs.py").read_text()
    if proof.keyword:
        assert f"def {proof.keyword}(" in text
