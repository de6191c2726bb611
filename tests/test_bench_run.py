"""`harness bench` on the host with a fake vng: measuring per clock, reporting, failing."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from helpers import DRY_RUN, make_series, patch_text

from harness.bench import (
    ICOUNT_QEMU_OPT,
    Bench,
    BenchOptions,
    Prepared,
    guest_command,
    kernels,
    qemu_version,
    vm_tweak,
)
from harness.errors import ExitCode, InfraError, MissingDependency, UsageError
from harness.paths import CacheLayout
from harness.vm import VmSpec

METHODS = ("test_run", "pktgen_native", "pktgen_generic")
SCALE = {"test_run": 1, "pktgen_native": 30, "pktgen_generic": 25}


def _samples(configs: dict[str, list[float]], switch: str | None = None) -> str:
    samples = [
        {"config": c, "method": m, "run": i + 1, "ns_per_packet": v * SCALE[m]}
        for c, values in configs.items()
        for m in METHODS
        for i, v in enumerate(values)
    ]
    detail = f"sysctl {switch}" if switch else None
    return json.dumps(
        {
            "kernel_release": "6.12.118",
            "cpus": 1,
            "clocksource": "tsc",
            "xdp_stats_switch": "sysctl" if switch else None,
            "xdp_stats_switch_detail": detail,
            "samples": samples,
        }
    )


# per results subdirectory <kernel>/<clock>: what the guest writes
GUEST = {
    "base/icount": _samples({"base": [79.0, 79.0, 79.0]}),
    "patched/icount": _samples(
        {"off": [79.0, 79.0, 79.0], "on": [80.0, 80.0, 80.0]}, "net.core.xdp_stats"
    ),
    "base/ns": _samples({"base": [80.0, 82.0, 79.0]}),
    "patched/ns": _samples(
        {"off": [81.0, 80.0, 83.0], "on": [90.0, 92.0, 91.0]}, "net.core.xdp_stats"
    ),
}

BLOAT_OUTPUT = """\
add/remove: 2/0 grow/shrink: 1/0 up/down: 120/0 (120)
Function                                     old     new   delta
xdp_stats_read                                 -     100    +100
Total: Before=1000, After=1120, chg +12.00%
"""


def _fake_tools(bindir: Path, body: str) -> None:
    """A vng that finds the results dir in its --rwdir argument and plays a guest, and
    a qemu-system-x86_64 that tells its version."""
    bindir.mkdir(parents=True, exist_ok=True)
    script = bindir / "vng"
    script.write_text(
        "#!/bin/bash\n" + DRY_RUN + 'echo "$@" >> "$(dirname "$0")/calls"\n'
        'while [ $# -gt 0 ]; do [ "$1" = --rwdir ] && RES=$2; shift; done\n' + body
    )
    qemu = bindir / "qemu-system-x86_64"
    qemu.write_text(
        "#!/bin/sh\necho 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)'\n"
    )
    for f in (script, qemu):
        f.chmod(f.stat().st_mode | stat.S_IXUSR)


def _guest_writes(samples: dict[str, str], extra: str = "") -> str:
    cases = "".join(
        f"  */{where}) echo '{text}' > \"$RES/samples.json\";;\n" for where, text in samples.items()
    )
    return (
        "echo 'harness-guest: start'\n"
        f'case "$RES" in\n{cases}esac\n'
        "echo 'bench: run 1 off  test_run             79.0 insn/packet'\n"
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
    return b


def _prepared(tmp_path: Path, label: str) -> Prepared:
    build = tmp_path / label / "build"
    (build / "arch/x86/boot").mkdir(parents=True, exist_ok=True)
    return Prepared(
        tmp_path / label / "src", build, tmp_path / "bpftool", tmp_path / "xdp_drop.bpf.o"
    )


def _measure_all(b: Bench, tmp_path: Path) -> None:
    for k in b.kernels:
        for clock in b.opts.clocks:
            b._measure(k, _prepared(tmp_path, k.label), clock)


def test_measures_both_kernels_with_both_clocks_and_reports(
    bench: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_tools(tmp_path / "bin", _guest_writes(GUEST))
    assert bench.results.name.endswith("-bench-xdp-stats")
    _measure_all(bench, tmp_path)
    assert bench._report(ExitCode.OK, "") == ExitCode.OK

    calls = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert len(calls) == 4
    base_icount, base_ns, patched_icount, patched_ns = calls
    for call in calls:
        assert "--cpus 1 " in call
        assert "--disable-kvm" in call
    assert f"--qemu-opts={ICOUNT_QEMU_OPT}" in base_icount
    assert f"--qemu-opts={ICOUNT_QEMU_OPT}" in patched_icount
    assert "-icount" not in base_ns and "-icount" not in patched_ns
    assert "--clock icount --config base --runs 5" in base_icount
    assert "--clock ns --config off --config on --runs 5" in patched_ns
    assert f"--kernel-tree {tmp_path / 'patched' / 'src'}" in patched_ns

    data = json.loads((bench.results / "results.json").read_text())
    assert data["verdict"] == "OK" and data["exit_code"] == 0
    assert data["accel"]["ns"]["accel"] == "tcg"
    assert data["accel"]["icount"]["reason"] == f"QEMU {ICOUNT_QEMU_OPT} needs it"
    assert data["params"]["clocks"] == ["icount", "ns"]
    assert data["xdp_stats_switch"] == "sysctl net.core.xdp_stats"
    summary = {(r["clock"], r["method"], r["config"]): r for r in data["summary"]}
    assert summary[("icount", "test_run", "base")]["median"] == 79.0
    assert summary[("ns", "pktgen_native", "off")]["median"] == 81.0 * 30
    found = {(d["clock"], d["method"], d["config"], d["against"]): d for d in data["deltas"]}
    assert found[("icount", "pktgen_generic", "on", "base")]["delta"] == 25.0
    assert found[("ns", "test_run", "on", "base")]["ratio"] == pytest.approx(91.0 / 80.0)
    assert {(s["kernel"], s["clock"]) for s in data["samples"]} == {
        (k, c) for k in ("base", "patched") for c in ("icount", "ns")
    }
    guests = data["kernels"]["patched"]["guests"]
    assert guests["icount"]["clocksource"] == "tsc" and "samples" not in guests["icount"]
    for where in GUEST:
        assert (bench.results / where / "console.log").exists()

    table = (bench.results / "table.md").read_text()
    assert "with `-icount shift=0,sleep=off` and 1 vCPU" in table
    assert "Guest accelerator: TCG (requested with --accel tcg)" in table
    assert "XDP statistics switched with: sysctl net.core.xdp_stats." in table
    assert (
        "| pktgen into veth, generic XDP_DROP on the peer | patched, statistics on | 3 | 2000.0 "
        "| 2000.0 … 2000.0 | +25.0 (+1.27 %) | +25.0 (+1.27 %) | 2275.0 | 2250.0 … 2300.0 "
        "| \N{MULTIPLICATION SIGN}1.137 | \N{MULTIPLICATION SIGN}1.123 |" in table
    )
    assert (bench.results / "bench.png").read_bytes().startswith(b"\x89PNG")
    out, err = capsys.readouterr()
    assert table in out
    assert "    bench: run 1 off  test_run             79.0 insn/packet" in err  # progress
    assert "bench: run 1" not in out
    assert out.rstrip().endswith("OK (exit 0)")


def test_against_a_series_both_kernels_switch_and_are_told_apart(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    one = {"0001-x.patch": patch_text("[PATCH] xdp: stats")}
    make_series(harness_repo, "xdp-stats", depends_on=("baseline",), patches=one)
    two = {"0001-y.patch": patch_text("[PATCH] xdp: mb")}
    make_series(harness_repo, "mb", depends_on=("xdp-stats",), patches=two)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    opts = BenchOptions(
        series=["mb"],
        against=["xdp-stats"],
        accel="tcg",
        clocks=("icount",),
        results_root=tmp_path / "res",
    )
    b = Bench(opts, harness_repo, CacheLayout(tmp_path / "cache"), host_check=lambda st: None)
    b.results.mkdir(parents=True)
    for p in b.pipelines.values():
        p.results.mkdir()
    both = {"off": [79.0, 79.0, 79.0], "on": [80.0, 80.0, 80.0]}
    guest = {"base/icount": _samples(both, "x"), "patched/icount": _samples(both, "x")}
    _fake_tools(tmp_path / "bin", _guest_writes(guest))
    _measure_all(b, tmp_path)
    assert b._report(ExitCode.OK, "") == ExitCode.OK
    calls = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert all("--config off --config on" in c for c in calls) and len(calls) == 2
    data = json.loads((b.results / "results.json").read_text())
    assert data["against"] == ["xdp-stats"]
    assert data["kernels"]["base"]["series"] == ["baseline", "xdp-stats"]
    configs = {(s["kernel"], s["config"]) for s in data["samples"]}
    assert configs == {
        ("base", "base-off"),
        ("base", "base-on"),
        ("patched", "off"),
        ("patched", "on"),
    }
    found = {(d["method"], d["config"], d["against"]): d["delta"] for d in data["deltas"]}
    assert found[("pktgen_native", "on", "base-on")] == 0.0
    assert found[("pktgen_native", "base-on", "base-off")] == 30.0
    table = (b.results / "table.md").read_text()
    assert table.startswith("# XDP_DROP cost per packet: xdp-stats vs ")


def test_ns_only(bench: Bench, tmp_path: Path) -> None:
    _fake_tools(tmp_path / "bin", _guest_writes(GUEST))
    bench.opts = BenchOptions(accel="tcg", clocks=("ns",))
    _measure_all(bench, tmp_path)
    bench._report(ExitCode.OK, "")
    calls = (tmp_path / "bin" / "calls").read_text()
    assert "-icount" not in calls and calls.count("--clock ns") == 2
    table = (bench.results / "table.md").read_text()
    assert "insn" not in table and "ns/packet (median)" in table


def test_guest_error_is_infrastructure(bench: Bench, tmp_path: Path) -> None:
    broken = {"base/icount": json.dumps({"error": "pktgen did not report an OK result"})}
    _fake_tools(tmp_path / "bin", _guest_writes(broken))
    with pytest.raises(InfraError, match=r"on the base kernel \(icount\) failed: pktgen"):
        bench._measure(bench.kernels[0], _prepared(tmp_path, "base"), "icount")


def test_splat_fails_the_bench_and_is_kept_across_boots(bench: Bench, tmp_path: Path) -> None:
    warning = "echo '[    5.000000] WARNING: CPU: 0 PID: 9 at net/core/xdp_stats.c:10 f+0x1/0x2'\n"
    _fake_tools(tmp_path / "bin", _guest_writes(GUEST, warning))
    _measure_all(bench, tmp_path)
    assert bench._report(ExitCode.FAILED if bench.errors else ExitCode.OK, "") == ExitCode.FAILED
    data = json.loads((bench.results / "results.json").read_text())
    assert data["verdict"] == "FAIL"
    assert data["problems"][0].startswith("base kernel splatted (icount): WARNING at console line")
    assert len(data["kernels"]["base"]["splats"]) == 2  # one per boot


def test_options_are_checked(harness_repo: Path, tmp_path: Path) -> None:
    make_series(harness_repo, "baseline")
    with pytest.raises(UsageError, match="--runs must be at least 1"):
        Bench(BenchOptions(runs=0), harness_repo, CacheLayout(tmp_path))
    with pytest.raises(UsageError, match="compared with"):
        Bench(BenchOptions(series=["baseline"]), harness_repo, CacheLayout(tmp_path))
    with pytest.raises(UsageError, match="needs TCG"):
        Bench(BenchOptions(accel="kvm"), harness_repo, CacheLayout(tmp_path))
    with pytest.raises(UsageError, match="nothing to measure"):
        Bench(BenchOptions(clocks=()), harness_repo, CacheLayout(tmp_path))
    with pytest.raises(UsageError, match="unknown series 'xdp-stats'"):
        Bench(BenchOptions(accel="kvm", clocks=("ns",)), harness_repo, CacheLayout(tmp_path))


def test_kernels_guest_command_and_vm(tmp_path: Path) -> None:
    opts = BenchOptions(series=["a", "b"], runs=3, repeat=10, pktgen_count=20)
    assert [(k.label, k.series, k.configs) for k in kernels(opts)] == [
        ("base", ["baseline"], ("base",)),
        ("patched", ["a", "b"], ("off", "on")),
    ]
    against = BenchOptions(series=["b"], against=["a"])
    assert [(k.label, k.series, k.configs) for k in kernels(against)] == [
        ("base", ["a"], ("off", "on")),
        ("patched", ["b"], ("off", "on")),
    ]
    prep = Prepared(Path("/wt"), Path("/b"), Path("/bt"), Path("/o"))
    cmd = guest_command(tmp_path / "s.json", prep, ("off", "on"), "icount", opts)
    assert cmd[1:3] == ["-m", "harness.bench_guest"]
    assert cmd[3:] == [
        "--out", str(tmp_path / "s.json"), "--bpftool", "/bt", "--obj", "/o",
        "--kernel-tree", "/wt", "--clock", "icount",
        "--config", "off", "--config", "on", "--runs", "3", "--repeat", "10",
        "--pktgen-count", "20",
    ]  # fmt: skip
    spec = VmSpec(bzimage=Path("/bz"), accel="tcg", qemu_opts=("-d nothing",))
    assert vm_tweak("icount")(spec) == VmSpec(
        bzimage=Path("/bz"), accel="tcg", cpus=1, qemu_opts=("-d nothing", ICOUNT_QEMU_OPT)
    )
    assert vm_tweak("ns")(spec) == VmSpec(
        bzimage=Path("/bz"), accel="tcg", cpus=1, qemu_opts=("-d nothing",)
    )


def test_qemu_version() -> None:
    assert qemu_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright\n") == (
        "7.2.22"
    )
    assert qemu_version("something else\n") == "something else"
    assert qemu_version("") == "?"


def _fake_builds(tmp_path: Path) -> tuple[Prepared, Prepared]:
    base, patched = _prepared(tmp_path, "base"), _prepared(tmp_path, "patched")
    script = base.worktree / "scripts" / "bloat-o-meter"
    script.parent.mkdir(parents=True)
    script.write_text(f"print({BLOAT_OUTPUT!r}, end='')\n")
    for p in (base, patched):
        (p.build_dir / "vmlinux").write_text("elf")
    return base, patched


def test_execute_writes_per_kernel_results_sizes_and_latest(
    bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tools(tmp_path / "bin", _guest_writes(GUEST))
    built = dict(zip(("base", "patched"), _fake_builds(tmp_path), strict=True))
    monkeypatch.setattr(Bench, "_prepare", lambda self, k: built[k.label])
    assert bench.execute() == ExitCode.OK
    assert (bench.results.parent / "latest").resolve() == bench.results.resolve()
    for label in ("base", "patched"):
        summary = json.loads((bench.results / label / "results.json").read_text())
        assert summary["verdict"] == "MEASURED"
        assert (bench.results / label / "icount" / "console.log").exists()
        commands = (bench.results / label / "commands.sh").read_text()
        assert commands.startswith("#!/bin/sh")
    assert "bloat-o-meter" in (bench.results / "base" / "commands.sh").read_text()
    data = json.loads((bench.results / "results.json").read_text())
    assert set(data["host_load"]) == {"start", "end"}
    assert data["qemu"] == "7.2.22"
    assert data["seconds"] >= 0
    assert len(data["summary"]) == 2 * 3 * 3
    assert data["bloat"] == [
        {
            "name": "vmlinux",
            "objects": ["vmlinux"],
            "bloat": {
                "added": 2,
                "removed": 0,
                "grown": 1,
                "shrunk": 0,
                "before": 1000,
                "after": 1120,
            },
            "only_in": {},
            "error": None,
            "delta": 120,
        }
    ]
    assert (bench.results / "bloat" / "vmlinux.txt").read_text().endswith(BLOAT_OUTPUT)
    table = (bench.results / "table.md").read_text()
    assert "QEMU 7.2.22 TCG" in table
    assert "| vmlinux | 1 | +2/-0 | 1/0 | 1000 | 1120 | +120 |" in table


def test_execute_reports_a_failed_build(
    bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Bench, k: object) -> Prepared:
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
    def broken(self: Bench, k: object) -> Prepared:
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


def test_both_kernels_are_built_with_the_same_config_fragments(
    harness_repo: Path, tmp_path: Path
) -> None:
    """A series' own fragment (xdp-stats' userns.config) goes into the base kernel too,
    which then has a cache directory of its own: the measured difference is the code's."""
    make_series(harness_repo, "baseline", selftests=("baseline",))
    one = {"0001-x.patch": patch_text("[PATCH] xdp: stats")}
    make_series(
        harness_repo, "xdp-stats", depends_on=("baseline",), config=("userns.config",), patches=one
    )
    b = Bench(BenchOptions(), harness_repo, CacheLayout(tmp_path), host_check=lambda st: None)
    base, patched = b.pipelines["base"], b.pipelines["patched"]
    assert [f.name for f in base.fragments()] == ["base.config", "userns.config"]
    assert [f.name for f in patched.fragments()] == ["base.config", "userns.config"]
    assert base.key == "baseline.with-userns"
    assert patched.key == "xdp-stats"
