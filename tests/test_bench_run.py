"""`harness bench` on the host with a fake vng: measuring, reporting, and failing."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from helpers import make_series, patch_text

from harness.bench import Bench, BenchOptions, guest_command, kernels
from harness.errors import ExitCode, InfraError, MissingDependency, UsageError
from harness.paths import CacheLayout


def _samples(configs: dict[str, list[float]]) -> str:
    samples = [
        {"config": c, "method": m, "run": i + 1, "ns_per_packet": v * (100 if m == "pktgen" else 1)}
        for c, values in configs.items()
        for m in ("test_run", "pktgen")
        for i, v in enumerate(values)
    ]
    return json.dumps({"kernel_release": "6.12.117", "cpus": 2, "samples": samples})


GUEST = {
    "base": _samples({"base": [80.0, 82.0, 79.0]}),
    "patched": _samples({"off": [81.0, 80.0, 83.0], "on": [90.0, 92.0, 91.0]}),
}


def _fake_vng(bindir: Path, body: str) -> None:
    """A vng that finds the results dir in its --rwdir argument and plays a guest."""
    bindir.mkdir(parents=True, exist_ok=True)
    script = bindir / "vng"
    script.write_text(
        '#!/bin/bash\necho "$@" >> "$(dirname "$0")/calls"\n'
        'while [ $# -gt 0 ]; do [ "$1" = --rwdir ] && RES=$2; shift; done\n' + body
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _guest_writes(samples: dict[str, str], extra: str = "") -> str:
    cases = "".join(
        f"  */{label}) echo '{text}' > \"$RES/samples.json\";;\n" for label, text in samples.items()
    )
    return (
        "echo 'harness-guest: start'\n"
        f'case "$RES" in\n{cases}esac\n'
        "echo 'bench: run 1 off  test_run   81.0 ns/packet'\n"
        f"{extra}"
        "echo 'harness-guest: pytest exit 0'\n"
    )


@pytest.fixture
def bench(harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bench:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    make_series(
        harness_repo,
        "xdp-stats",
        depends_on=("baseline",),
        patches={"0001-x.patch": patch_text("[PATCH] xdp: stats")},
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    opts = BenchOptions(accel="tcg", timeout=30, boot_timeout=30, results_root=tmp_path / "res")
    b = Bench(opts, harness_repo, CacheLayout(tmp_path / "cache"), host_check=lambda st: None)
    b.results.mkdir(parents=True)
    for p in b.pipelines.values():
        p.results.mkdir()
    (tmp_path / "build" / "arch/x86/boot").mkdir(parents=True)
    return b


def _measure_all(b: Bench, tmp_path: Path) -> None:
    for k in b.kernels:
        b._measure(k, tmp_path / "build", tmp_path / "bpftool", tmp_path / "xdp_drop.bpf.o")


def test_measures_both_kernels_and_reports(
    bench: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_vng(tmp_path / "bin", _guest_writes(GUEST))
    assert bench.results.name.endswith("-bench-xdp-stats")
    _measure_all(bench, tmp_path)
    assert bench._report(ExitCode.OK, "") == ExitCode.OK

    calls = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert len(calls) == 2
    assert "--config base --runs 7" in calls[0]
    assert "--config off --config on --runs 7" in calls[1]
    assert "--disable-kvm" in calls[0]

    data = json.loads((bench.results / "results.json").read_text())
    assert data["verdict"] == "OK" and data["exit_code"] == 0
    assert data["accel"]["accel"] == "tcg"
    summary = {(r["method"], r["config"]): r for r in data["summary"]}
    assert summary[("test_run", "base")]["median"] == 80.0
    assert summary[("test_run", "on")]["ratio"] == pytest.approx(91.0 / 80.0)
    assert summary[("pktgen", "off")]["ratio"] == pytest.approx(8100.0 / 8000.0)
    assert {s["kernel"] for s in data["samples"]} == {"base", "patched"}

    table = (bench.results / "table.md").read_text()
    assert "Guest accelerator: TCG (requested with --accel tcg)" in table
    assert "only the ratios to base mean anything" in table
    assert "| patched, xdp_stats=1 | 3 | 90.0 | 91.0 | 92.0 | 1.137 | 1.139 |" in table
    assert (bench.results / "bench.png").read_bytes().startswith(b"\x89PNG")
    out, err = capsys.readouterr()
    assert table in out
    assert "    bench: run 1 off  test_run   81.0 ns/packet" in err  # progress: stderr
    assert "bench: run 1" not in out
    assert out.rstrip().endswith("OK (exit 0)")


def test_guest_error_is_infrastructure(bench: Bench, tmp_path: Path) -> None:
    broken = {"base": json.dumps({"error": "pktgen did not report an OK result: Result: Idle"})}
    _fake_vng(tmp_path / "bin", _guest_writes(broken))
    with pytest.raises(InfraError, match="measuring on the base kernel failed: pktgen"):
        bench._measure(bench.kernels[0], tmp_path / "build", tmp_path / "b", tmp_path / "o")


def test_splat_fails_the_bench(bench: Bench, tmp_path: Path) -> None:
    warning = "echo '[    5.000000] WARNING: CPU: 0 PID: 9 at net/core/xdp_stats.c:10 f+0x1/0x2'\n"
    _fake_vng(tmp_path / "bin", _guest_writes(GUEST, warning))
    _measure_all(bench, tmp_path)
    assert bench._report(ExitCode.FAILED if bench.errors else ExitCode.OK, "") == ExitCode.FAILED
    data = json.loads((bench.results / "results.json").read_text())
    assert data["verdict"] == "FAIL"
    assert data["problems"][0].startswith("base kernel splatted: WARNING at console line")
    assert data["kernels"]["base"]["splats"]


def test_options_are_checked(harness_repo: Path, tmp_path: Path) -> None:
    make_series(harness_repo, "baseline")
    with pytest.raises(UsageError, match="--runs must be at least 1"):
        Bench(BenchOptions(runs=0), harness_repo, CacheLayout(tmp_path))
    with pytest.raises(UsageError, match="compared with"):
        Bench(BenchOptions(series=["baseline"]), harness_repo, CacheLayout(tmp_path))
    with pytest.raises(UsageError, match="unknown series 'xdp-stats'"):
        Bench(BenchOptions(), harness_repo, CacheLayout(tmp_path))


def test_kernels_and_guest_command(tmp_path: Path) -> None:
    opts = BenchOptions(series=["a", "b"], runs=3, repeat=10, pktgen_count=20)
    assert [(k.label, k.series, k.configs) for k in kernels(opts)] == [
        ("base", ["baseline"], ("base",)),
        ("patched", ["a", "b"], ("off", "on")),
    ]
    cmd = guest_command(tmp_path / "s.json", Path("/bt"), Path("/o"), ("off", "on"), opts)
    assert cmd[1:3] == ["-m", "harness.bench_guest"]
    assert cmd[3:] == [
        "--out", str(tmp_path / "s.json"), "--bpftool", "/bt", "--obj", "/o",
        "--config", "off", "--config", "on", "--runs", "3", "--repeat", "10",
        "--pktgen-count", "20",
    ]  # fmt: skip


def test_execute_writes_per_kernel_results_and_latest(
    bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_vng(tmp_path / "bin", _guest_writes(GUEST))
    built = (tmp_path / "build", tmp_path / "bpftool", tmp_path / "xdp_drop.bpf.o")
    monkeypatch.setattr(Bench, "_prepare", lambda self, k: built)
    assert bench.execute() == ExitCode.OK
    assert (bench.results.parent / "latest").resolve() == bench.results.resolve()
    for label in ("base", "patched"):
        summary = json.loads((bench.results / label / "results.json").read_text())
        assert summary["verdict"] == "MEASURED"
        assert (bench.results / label / "console.log").exists()
        assert (bench.results / label / "commands.sh").read_text().startswith("#!/bin/sh")
    data = json.loads((bench.results / "results.json").read_text())
    assert set(data["host_load"]) == {"start", "end"}
    assert len(data["summary"]) == 6


def test_execute_reports_a_failed_build(
    bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Bench, k: object) -> tuple[Path, Path, Path]:
        raise InfraError("make failed: see build.log")

    monkeypatch.setattr(Bench, "_prepare", broken)
    assert bench.execute() == ExitCode.INFRA
    data = json.loads((bench.results / "results.json").read_text())
    assert data["problems"] == ["make failed: see build.log"]
    assert data["verdict"] == "FAIL" and data["samples"] == []
    assert not (bench.results / "table.md").exists()


def test_execute_reports_an_unexpected_error_as_infrastructure(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Bench, k: object) -> tuple[Path, Path, Path]:
        raise ValueError("damaged stamp file")

    monkeypatch.setattr(Bench, "_prepare", broken)
    assert bench.execute() == ExitCode.INFRA
    data = json.loads((bench.results / "results.json").read_text())
    assert data["exit_code"] == 3
    assert data["problems"][0].startswith("unexpected ValueError: damaged stamp file")
    assert "_prepare" in (bench.results / "traceback.txt").read_text()


def test_execute_checks_every_host_tool_before_building(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared: list[str] = []

    def missing(stages: object) -> None:
        raise MissingDependency({"qemu-system-x86_64": "qemu-system-x86"})

    monkeypatch.setattr(Bench, "_prepare", lambda self, k: prepared.append(k.label))
    bench.host_check = missing
    assert bench.execute() == ExitCode.INFRA
    assert prepared == []
    data = json.loads((bench.results / "results.json").read_text())
    assert "qemu-system-x86_64 (package qemu-system-x86)" in data["problems"][0]
