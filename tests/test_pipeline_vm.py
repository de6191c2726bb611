"""boot_and_test end to end with a fake vng: the verdict comes from what the guest did."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from helpers import built_stack, fake_vng, make_image, make_series

from harness.errors import ExitCode
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline

JUNIT_PASS = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="1">'
    '<testcase classname="selftests.baseline.test_x" name="test_ok" time="0.5"/>'
    "</testsuite></testsuites>"
)


def _run(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, timeout: float = 30
) -> tuple[ExitCode, Pipeline]:
    """`harness test` of a built baseline through Pipeline.execute(), the guest played
    by ``body``: the exit code is the real entry point's."""
    make_series(repo, "baseline", selftests=("baseline",))
    tree, cache, _ = built_stack(tmp_path, "baseline")
    fake_vng(tmp_path / "bin", body)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    opts = Options(
        command="test",
        series=["baseline"],
        kernel_tree=tree,
        accel="tcg",
        timeout=timeout,
        boot_timeout=timeout,
        results_root=tmp_path / "results",
    )
    p = Pipeline(opts, repo, cache, host_check=lambda stages: None)
    return p.execute(), p


def test_passing_guest_passes(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "echo '[    1.000000] Linux version 6.12.117'\n"
        "echo 'harness-guest: start'\n"
        f"echo '{JUNIT_PASS}' > \"$RES/junit.xml\"\n"
        "echo 'selftests/baseline/test_x.py::test_ok PASSED'\n"
        "echo 'harness-guest: pytest exit 0'\n"
    )
    code, p = _run(harness_repo, tmp_path, monkeypatch, body)
    assert code == ExitCode.OK
    assert [t.outcome for t in p.report.tests] == ["passed"]
    assert "guest_boot" in p.report.timings


def test_warning_fails_a_run_whose_tests_all_passed(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "echo 'harness-guest: start'\n"
        f"echo '{JUNIT_PASS}' > \"$RES/junit.xml\"\n"
        "echo '[    5.000000] WARNING: CPU: 0 PID: 9 at net/core/dev.c:10 f+0x1/0x2'\n"
        "echo 'harness-guest: pytest exit 0'\n"
    )
    code, p = _run(harness_repo, tmp_path, monkeypatch, body)
    assert code == ExitCode.FAILED
    assert [s.kind for s in p.report.splats] == ["WARNING"]
    assert "kernel splat(s): WARNING" in p.report.verdict


def test_panic_mid_test_fails_with_the_console_kept(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "echo 'harness-guest: start'\n"
        "echo 'selftests/baseline/test_x.py::test_ok '\n"
        "echo '[    7.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008'\n"
        "echo '[    7.100000] Kernel panic - not syncing: Fatal exception in interrupt'\n"
        "exit 255\n"
    )
    code, p = _run(harness_repo, tmp_path, monkeypatch, body)
    assert code == ExitCode.FAILED
    assert [s.kind for s in p.report.splats] == ["BUG", "panic"]
    assert "Kernel panic" in (p.results / "console.log").read_text()


def test_guest_that_dies_without_a_splat_is_infrastructure(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "echo 'harness-guest: start'\necho 'virtme-ng-init: cannot find ports'\nexit 255\n"
    code, p = _run(harness_repo, tmp_path, monkeypatch, body)
    assert code == ExitCode.INFRA
    assert "exited (status 255) before the tests finished" in p.report.error
    assert "cannot find ports" in p.report.error


def test_hung_vm_is_killed_and_reported(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "echo 'harness-guest: start'\nsleep 60\n"
    code, p = _run(harness_repo, tmp_path, monkeypatch, body, timeout=3)
    assert code == ExitCode.INFRA
    assert "did not finish within 3s: hung, killed; console kept" in p.report.error
    assert "VM killed: run timeout" in (p.results / "console.log").read_text()
    json.dumps(p.report.to_json())  # still serialisable


def test_guest_gets_the_kernel_tree(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "echo 'harness-guest: start'\n"
        f"echo '{JUNIT_PASS}' > \"$RES/junit.xml\"\n"
        "echo 'harness-guest: pytest exit 0'\n"
    )
    code, p = _run(harness_repo, tmp_path, monkeypatch, body)
    assert code == ExitCode.OK
    vng = next(line for line in p.runner.log.lines if "vng --run" in line)
    guest = shlex.split(shlex.split(vng)[-1])  # the --exec command, as the guest runs it
    assert guest[1:3] == ["-m", "harness.guest"]
    assert guest[guest.index("--kernel-tree") + 1] == str(p.cache.worktree(p.work_key))


def test_guest_whose_init_cannot_start_is_infrastructure_not_a_failed_test(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad command line (init=/nonexistent) panics the kernel before any test: the
    run is exit 3 and says why, although the console has a panic."""
    body = (
        "echo '[    1.500000] Kernel panic - not syncing: Requested init /nonexistent failed "
        "(error -2).'\n"
        "exit 255\n"
    )
    code, p = _run(harness_repo, tmp_path, monkeypatch, body)
    assert code == ExitCode.INFRA
    assert "could not start its init" in p.report.error
    assert "Requested init /nonexistent failed" in p.report.error
    assert "[vm] append" in p.report.error


def test_the_verdict_says_what_the_exit_code_says(harness_repo: Path, tmp_path: Path) -> None:
    """A splat with an infrastructure error is exit 1, and the verdict says FAIL; a guest
    whose init could not start is exit 3 although its console has a panic."""
    from harness.errors import GuestInitFailed, InfraError
    from harness.splats import Splat

    make_series(harness_repo, "baseline", selftests=("baseline",))
    opts = Options(command="test", series=["baseline"], results_root=tmp_path / "r")
    p = Pipeline(opts, harness_repo, CacheLayout(tmp_path / "cache"))
    p.report.splats = [Splat(kind="WARNING", line=3, text="WARNING: CPU: 0")]
    assert p._fail(InfraError("VM did not finish within 9s")) == ExitCode.FAILED
    assert p.report.verdict == "FAIL: kernel splat(s): WARNING; and an infrastructure error"
    p.report.splats = [Splat(kind="panic", line=9, text="Kernel panic - not syncing: VFS")]
    assert p._fail(GuestInitFailed("could not start its init")) == ExitCode.INFRA
    assert p.report.verdict == "ERROR: infrastructure"


def _image_pipeline(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image: Path
) -> tuple[Pipeline, CacheLayout]:
    """`harness test --image` of baseline, the fake vng in tmp_path/bin on PATH."""
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    opts = Options(
        command="test",
        series=["baseline"],
        accel="tcg",
        results_root=tmp_path / "results",
        image=image,
    )
    cache = CacheLayout(tmp_path / "cache")
    return Pipeline(opts, repo, cache), cache


def test_an_image_guest_gets_the_image_and_the_paths_it_mounts(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--image: vng boots the image's root with the checkout, the stack and the results
    mounted at its mount points, and the guest is handed those paths, run by the
    image's python; results.json names the image."""

    from harness.guest_image import GUEST_RESULTS, GUEST_STACK, VENV_PYTHON

    image = make_image(tmp_path / "img", image_id="bookworm-feedfacecafe")
    make_series(harness_repo, "baseline", selftests=("baseline",))
    fake_vng(
        tmp_path / "bin",
        "echo 'harness-guest: start'\n"
        f"echo '{JUNIT_PASS}' > \"$RES/junit.xml\"\n"
        "echo 'harness-guest: pytest exit 0'\n",
    )
    p, cache = _image_pipeline(harness_repo, tmp_path, monkeypatch, image)
    assert p.report.inputs["guest_image"] == "bookworm-feedfacecafe"
    p.results.mkdir(parents=True)
    build = cache.build(p.work_key)
    (build / "arch/x86/boot").mkdir(parents=True)
    p.boot_and_test(cache.worktree(p.work_key), build)
    assert [t.outcome for t in p.report.tests] == ["passed"]
    vng = shlex.split(next(line for line in p.runner.log.lines if "vng --run" in line))
    assert vng[vng.index("--root") + 1] == str(image.resolve())
    assert vng[vng.index("--rwdir") + 1] == f"{GUEST_RESULTS}={p.results}"
    rodirs = {vng[i + 1] for i, a in enumerate(vng) if a == "--rodir"}
    assert rodirs == {
        f"/opt/xdp-harness/repo={harness_repo}",
        f"{GUEST_STACK}={cache.stack(p.work_key)}",
    }
    guest = shlex.split(vng[-1])
    assert guest[:3] == [VENV_PYTHON, "-m", "harness.guest"]
    assert guest[guest.index("--results") + 1] == GUEST_RESULTS
    assert guest[guest.index("--bpf-objdir") + 1] == f"{GUEST_STACK}/bpf"
    assert guest[guest.index("--kernel-tree") + 1] == f"{GUEST_STACK}/src"


def test_a_bad_image_is_refused_before_anything_runs(harness_repo: Path, tmp_path: Path) -> None:
    from harness.errors import UsageError

    make_series(harness_repo, "baseline", selftests=("baseline",))
    opts = Options(command="test", series=["baseline"], image=tmp_path / "no-image")
    with pytest.raises(UsageError, match=r"guest image .*no-image does not exist"):
        Pipeline(opts, harness_repo, CacheLayout(tmp_path / "cache"))


def test_the_accelerator_is_decided_and_said_once_per_run(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every guest of a run asks for the plan (its command line's length, the boot,
    the rerun); the probe and its warning happen once."""
    from harness import accel

    make_series(harness_repo, "baseline", selftests=("baseline",))
    calls: list[str] = []

    def decide(requested: str, *args: object, **kw: object) -> accel.AccelDecision:
        calls.append(requested)
        return accel.AccelDecision("tcg", "KVM probe failed: test")

    monkeypatch.setattr(accel, "decide", decide)
    p = Pipeline(Options(command="test", series=["baseline"]), harness_repo, CacheLayout(tmp_path))
    first, second = p.vm_plan(tmp_path / "build"), p.vm_plan(tmp_path / "build")
    assert first.accel == second.accel == "tcg"
    assert calls == ["auto"]


def test_each_requested_accelerator_is_decided_on_its_own(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """harness bench boots one pipeline with --accel tcg (icount), then as asked (ns):
    the second boot must not take the first one's TCG."""
    import dataclasses

    from harness import accel

    make_series(harness_repo, "baseline", selftests=("baseline",))
    calls: list[str] = []

    def decide(requested: str, *args: object, **kw: object) -> accel.AccelDecision:
        calls.append(requested)
        if requested == "tcg":
            return accel.AccelDecision("tcg", "requested with --accel tcg")
        return accel.AccelDecision("kvm", "probe boot with KVM took 3.0s")

    monkeypatch.setattr(accel, "decide", decide)
    p = Pipeline(Options(command="test", series=["baseline"]), harness_repo, CacheLayout(tmp_path))
    asked = p.opts
    p.opts = dataclasses.replace(asked, accel="tcg")
    assert p.vm_plan(tmp_path / "build").accel == "tcg"
    assert p.report.accel["accel"] == "tcg"
    p.opts = asked
    assert p.vm_plan(tmp_path / "build").accel == "kvm"
    assert p.report.accel["accel"] == "kvm"
    assert calls == ["tcg", "auto"]


def test_a_tool_the_image_cannot_run_stops_the_run_before_the_boot(
    harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import kerneltools
    from harness.errors import UsageError

    d = make_series(harness_repo, "baseline", selftests=("baseline",))
    with (d / "series.toml").open("a") as f:
        f.write('tools = ["bpftool"]\n')
    monkeypatch.setattr(kerneltools, "build_tools", lambda *a: {"bpftool": Path("/bin/ls")})
    fake_vng(tmp_path / "bin", "echo 'harness-guest: start'\ntouch \"$RES/booted\"\n")
    image = make_image(tmp_path / "img")  # no libraries at all
    p, cache = _image_pipeline(harness_repo, tmp_path, monkeypatch, image)
    p.results.mkdir(parents=True)
    with pytest.raises(UsageError, match=r"bpftool needs .*libc\.so\.6") as err:
        p.boot_and_test(cache.worktree(p.work_key), cache.build(p.work_key))
    assert err.value.exit_code == ExitCode.USAGE
    assert not any("vng --run" in line for line in p.runner.log.lines)
    assert not (p.results / "booted").exists()
