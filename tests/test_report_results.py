"""RunReport: results.json fields, summary.txt, and what the summary lists."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report import RunReport
from harness.report import TestResult as Result
from harness.splats import scan

CONSOLES = Path(__file__).parent / "consoles"


def _report() -> RunReport:
    splats = scan((CONSOLES / "warning.log").read_text())
    return RunReport(
        run_id="20250101-120000-xdp-meta",
        command="harness run --series xdp-meta",
        series=["baseline", "xdp-meta"],
        suites=["baseline", "xdp_meta"],
        kernel={
            "version": "6.12.117",
            "origin": "Debian linux-source-6.12 6.12.117-1",
            "commit": "0123456789abcdef0123456789abcdef01234567",
        },
        config_hash="a1b2c3d4e5f60718",
        accel={"accel": "tcg", "reason": "/dev/kvm missing or not accessible"},
        timings={"build": 412.25, "vm": 93.5},
        tests=[
            Result("test_veth::test_pass", "passed", 0.5),
            Result(
                "test_veth::test_drop",
                "failed",
                1.25,
                "AssertionError: XDP_DROP counter is 0\nassert 0 == 64",
            ),
            Result("test_veth::test_redirect", "skipped", 0.0, "needs two NICs"),
            Result("test_veth::test_setup", "error", 0.1, "cannot create netns"),
        ],
        splats=splats,
        exit_code=1,
        verdict="FAIL: 2 test(s) failed",
    )


def test_to_json_fields() -> None:
    data = json.loads(_report().to_json())
    assert data["run_id"] == "20250101-120000-xdp-meta"
    assert data["series"] == ["baseline", "xdp-meta"]
    assert data["suites"] == ["baseline", "xdp_meta"]
    assert data["kernel"]["version"] == "6.12.117"
    assert data["kernel"]["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert data["config_hash"] == "a1b2c3d4e5f60718"
    assert data["accel"] == {"accel": "tcg", "reason": "/dev/kvm missing or not accessible"}
    assert data["timings"] == {"build": 412.25, "vm": 93.5}
    assert data["counts"] == {"passed": 1, "failed": 1, "error": 1, "skipped": 1}
    assert data["exit_code"] == 1
    assert data["verdict"] == "FAIL: 2 test(s) failed"
    assert data["tests"][1] == {
        "name": "test_veth::test_drop",
        "outcome": "failed",
        "duration": 1.25,
        "message": "AssertionError: XDP_DROP counter is 0\nassert 0 == 64",
    }
    (splat,) = data["splats"]
    assert splat["kind"] == "WARNING"
    assert splat["console_line"] == 2
    assert splat["summary"].startswith("WARNING at console line 2: ")
    assert "xdp_do_redirect+0x3c5/0x4a0" in splat["text"]


def test_write_creates_results_and_summary(tmp_path: Path) -> None:
    rep = _report()
    rep.write(tmp_path)
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(rep.to_json())
    assert (tmp_path / "summary.txt").read_text() == rep.summary_text(tmp_path) + "\n"


def test_summary_lists_failures_skips_and_splats(tmp_path: Path) -> None:
    lines = _report().summary_text(tmp_path).splitlines()
    assert lines[0] == "run 20250101-120000-xdp-meta: baseline + xdp-meta"
    assert lines[1] == (
        "  kernel   6.12.117 from Debian linux-source-6.12 6.12.117-1, commit 0123456789ab, "
        "config a1b2c3d4e5f60718"
    )
    assert lines[2] == "  accel    tcg (/dev/kvm missing or not accessible)"
    assert lines[3] == "  timings  build 412.2s, vm 93.5s"
    assert lines[4] == "  tests    1 passed, 1 failed, 1 errors, 1 skipped"
    assert "    FAILED  test_veth::test_drop  AssertionError: XDP_DROP counter is 0" in lines
    assert "    SKIPPED test_veth::test_redirect  needs two NICs" in lines
    assert "    ERROR   test_veth::test_setup  cannot create netns" in lines
    assert not any("test_veth::test_pass" in ln for ln in lines)
    splat_lines = [ln for ln in lines if ln.startswith("  SPLAT")]
    assert splat_lines == [
        "  SPLAT    WARNING at console line 2: [   14.202114] WARNING: CPU: 1 PID: 412 at "
        "net/core/filter.c:4466 xdp_do_redirect+0x3c5/0x4a0"
    ]
    assert lines[-2] == f"  results  {tmp_path}"
    assert lines[-1] == "FAIL: 2 test(s) failed (exit 1)"


def test_summary_of_an_error_run(tmp_path: Path) -> None:
    rep = RunReport(run_id="r", command="harness build", series=["s"], suites=[])
    rep.error = "kernel build failed (make exit 2)\n  fix: fix the error"
    rep.verdict = "ERROR: infrastructure"
    rep.exit_code = 3
    lines = rep.summary_text(tmp_path).splitlines()
    assert lines == [
        "run r: s",
        "  error    kernel build failed (make exit 2)",
        "             fix: fix the error",
        f"  results  {tmp_path}",
        "ERROR: infrastructure (exit 3)",
    ]


def test_summary_names_the_guest_userspace(tmp_path: Path) -> None:
    rep = _report()
    assert not any(ln.startswith("  guest ") for ln in rep.summary_text(tmp_path).splitlines())
    rep.inputs = {"guest_image": None}
    assert "  guest    the host's root" in rep.summary_text(tmp_path).splitlines()
    rep.inputs = {"guest_image": "bookworm-e94ac6490cee"}
    lines = rep.summary_text(tmp_path).splitlines()
    assert lines[3] == "  guest    image bookworm-e94ac6490cee (vm-images)"
    rep.accel = {}  # harness build: no guest
    assert not any(ln.startswith("  guest ") for ln in rep.summary_text(tmp_path).splitlines())
