"""Runs sharing one cache and one results root (two CI jobs on one machine): a lock per
stack and around the base import, results directories never shared."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import built_stack, fake_vng, init_repo, make_series, script

from harness import build, locks, pipeline, vm
from harness.errors import ExitCode
from harness.kconfig import config_hash
from harness.paths import CacheLayout, new_results_dir, point_latest
from harness.pipeline import Options, Pipeline

JUNIT_PASS = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="1">'
    '<testcase classname="selftests.baseline.test_x" name="test_ok" time="0.5"/>'
    "</testsuite></testsuites>"
)


def no_host_check(stages: object) -> None:
    pass


def is_locked(path: Path) -> bool:
    """Whether another open file holds the lock (a second open, as another run would)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.fixture
def repo(harness_repo: Path) -> Path:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    return harness_repo


# -- the lock itself ------------------------------------------------------------------


def test_a_held_lock_makes_the_next_one_wait_and_say_for_whom(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "stacks" / "baseline" / "lock"
    got: list[float] = []

    def second() -> None:
        with locks.held(path, "stack baseline"):
            got.append(time.monotonic())

    with locks.held(path, "stack baseline"):
        assert is_locked(path)
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)
        assert got == []  # still waiting
        released = time.monotonic()
    t.join(5)
    assert got and got[0] >= released
    assert not is_locked(path)
    err = capsys.readouterr().err
    assert f"waiting for stack baseline: held by pid {os.getpid()}:" in err
    assert str(path) in err


def test_the_lock_goes_with_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with pytest.raises(RuntimeError), locks.held(path, "x"):
        raise RuntimeError("boom")
    assert not is_locked(path)


# -- what the pipeline holds, and when ---------------------------------------------------


def test_the_stack_is_locked_from_apply_through_the_build(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "linux"
    init_repo(tree, {"Makefile": "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\n"})
    cache = CacheLayout(tmp_path / "cache")
    opts = Options(
        command="build", series=["baseline"], kernel_tree=tree, results_root=tmp_path / "r"
    )
    p = Pipeline(opts, repo, cache, host_check=no_host_check)
    seen: dict[str, bool] = {}

    def configure(wt: Path, build_dir: Path, *args: object, **kw: object) -> build.ConfigResult:
        seen["config"] = is_locked(cache.stack_lock(p.work_key))
        seen["base free"] = not is_locked(cache.source_lock)
        build_dir.mkdir(parents=True, exist_ok=True)
        (build_dir / ".config").write_text("CONFIG_NET=y\n")
        return build.ConfigResult(build_dir / ".config", config_hash(build_dir / ".config"), [])

    def make(wt: Path, build_dir: Path, *args: object, **kw: object) -> build.BuildResult:
        seen["build"] = is_locked(cache.stack_lock(p.work_key))
        bz = build_dir / "arch/x86/boot/bzImage"
        return build.BuildResult(bz, build_dir / "vmlinux", tmp_path / "log", False, 1)

    monkeypatch.setattr(build, "configure", configure)
    monkeypatch.setattr(build, "build", make)
    assert p.execute() == ExitCode.OK
    assert p.work_key.endswith("/baseline") and p.work_key.startswith("tree-")
    assert seen == {"config": True, "base free": True, "build": True}
    assert not is_locked(cache.stack_lock(p.work_key))  # released at the end


def _guest_with_junit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pause: float) -> None:
    _guest_with_junit_in(tmp_path / "bin", tmp_path, pause)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")


def _guest_with_junit_in(bindir: Path, tmp_path: Path, pause: float) -> None:
    """A fake vng in ``bindir``: one passing test, its start and end in tmp_path/guests."""
    fake_vng(
        bindir,
        "echo 'harness-guest: start'\n"
        f'echo "start $(date +%s.%N)" >> {tmp_path / "guests"}\n'
        f"sleep {pause}\n"
        f'echo "end $(date +%s.%N)" >> {tmp_path / "guests"}\n'
        f"echo '{JUNIT_PASS}' > \"$RES/junit.xml\"\n"
        "echo 'harness-guest: pytest exit 0'\n",
    )


def _test_run(repo: Path, tmp_path: Path, tree: Path, cache: CacheLayout) -> Pipeline:
    opts = Options(
        command="test",
        series=["baseline"],
        kernel_tree=tree,
        accel="tcg",
        timeout=30,
        boot_timeout=30,
        results_root=tmp_path / "results",
    )
    return Pipeline(opts, repo, cache, host_check=no_host_check)


def test_the_stack_is_locked_while_its_guest_runs(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, cache, key = built_stack(tmp_path, "baseline")
    _guest_with_junit(tmp_path, monkeypatch, 0)
    run_vm = vm.run_vm
    during: list[bool] = []

    def watched(*args: object, **kwargs: object) -> vm.VmResult:
        during.append(is_locked(cache.stack_lock(key)))
        return run_vm(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(vm, "run_vm", watched)
    p = _test_run(repo, tmp_path, tree, cache)
    assert p.execute() == ExitCode.OK
    assert during == [True]
    assert not is_locked(cache.stack_lock(key))


def test_two_runs_of_one_stack_at_once_both_pass_one_after_the_other(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, cache, _ = built_stack(tmp_path, "baseline")
    _guest_with_junit(tmp_path, monkeypatch, 0.7)
    monkeypatch.setattr(pipeline, "run_stamp", lambda: "20260101-000000")  # the same second
    runs = [_test_run(repo, tmp_path, tree, cache) for _ in range(2)]
    codes: list[ExitCode] = []
    threads = [threading.Thread(target=lambda p=p: codes.append(p.execute())) for p in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes == [ExitCode.OK, ExitCode.OK]
    events = [ln.split() for ln in (tmp_path / "guests").read_text().splitlines()]
    assert [e[0] for e in events] == ["start", "end", "start", "end"]  # never overlapped
    assert float(events[2][1]) >= float(events[1][1])
    dirs = sorted(p.results.name for p in runs)
    assert dirs == ["20260101-000000-baseline", "20260101-000000-baseline-2"]
    for p in runs:
        data = json.loads((p.results / "results.json").read_text())
        assert data["run_id"] == p.results.name
        assert data["verdict"] == "PASS: 1 tests passed, no splats"


# -- results directories -------------------------------------------------------------------


def test_runs_started_in_the_same_second_get_their_own_results(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "run_stamp", lambda: "20260101-000000")
    opts = Options(command="test", series=["baseline"], results_root=tmp_path / "results")
    first = Pipeline(opts, repo, CacheLayout(tmp_path / "cache"), host_check=no_host_check)
    second = Pipeline(opts, repo, CacheLayout(tmp_path / "cache"), host_check=no_host_check)
    assert first.results == second.results  # the same id, until the directory is made
    first.open_results()
    second.open_results()
    assert first.results.name == first.run_id == "20260101-000000-baseline"
    assert second.results.name == second.run_id == "20260101-000000-baseline-2"
    assert second.report.run_id == second.run_id


def test_new_results_dir_never_reuses_one(tmp_path: Path) -> None:
    made = [new_results_dir(tmp_path / "results", "r") for _ in range(3)]
    assert [d.name for d in made] == ["r", "r-2", "r-3"]
    assert all(d.is_dir() for d in made)


def test_latest_is_replaced_in_one_step(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    point_latest(a)
    point_latest(b)
    assert (tmp_path / "latest").resolve() == b.resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "latest"]


# -- two `harness run` processes on one cache ----------------------------------------------

# kbuild's two calls: allnoconfig keeps the merged fragments; bzImage takes a while and
# says when it ran.
FAKE_MAKE = r"""#!/bin/sh
for a in "$@"; do case "$a" in O=*) O="${a#O=}";; KCONFIG_ALLCONFIG=*) ALL="${a#*=}";; esac; done
case " $* " in
*" allnoconfig "*) cp "$ALL" "$O/.config" ;;
*" bzImage"*)
  echo "start $(date +%s.%N)" >> "$EVENTS.make"
  echo "  CC      net/core/dev.o"
  sleep 1
  mkdir -p "$O/arch/x86/boot" && echo bzImage > "$O/arch/x86/boot/bzImage"
  echo "end $(date +%s.%N)" >> "$EVENTS.make" ;;
esac
"""

# Host tools `run` checks for at its start, played by no-ops: the test needs none of them.
NO_OPS = (
    "gcc",
    "flex",
    "bison",
    "bc",
    "pahole",
    "ccache",
    "qemu-system-x86_64",
    "udevadm",
    "bpftool",
    "ip",
)


def _spans(path: Path) -> list[tuple[float, float]]:
    lines = [ln.split() for ln in path.read_text().splitlines()]
    starts = [float(t) for e, t in lines if e == "start"]
    ends = [float(t) for e, t in lines if e == "end"]
    return list(zip(starts, ends, strict=True))


def test_two_harness_run_processes_on_one_cache_both_pass(repo: Path, tmp_path: Path) -> None:
    """Two CI jobs at once: `harness run` twice, as processes, on one cache and one
    results root, from a kernel tree not yet imported: one import, one build (the
    second run finds it built), guests one after the other, both PASS."""
    tree = tmp_path / "linux"
    init_repo(tree, {"Makefile": "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\n"})
    bindir = tmp_path / "bin"
    _guest_with_junit_in(bindir, tmp_path, pause=0.5)
    script(bindir / "make", FAKE_MAKE)
    for tool in NO_OPS:
        script(bindir / tool, "exit 0\n")
    env = {
        **os.environ,
        # the interpreter's directory already on PATH, after the fakes: the CLI leaves
        # PATH as it is then (it would put the real vng first otherwise)
        "PATH": os.pathsep.join(
            [str(bindir), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
        ),
        "HARNESS_REPO": str(repo),
        "HARNESS_CACHE": str(tmp_path / "cache"),
        "EVENTS": str(tmp_path / "events"),
    }
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        "--series",
        "baseline",
        "--kernel-tree",
        str(tree),
        "--accel",
        "tcg",
        "--jobs",
        "1",
        "--results-dir",
        str(tmp_path / "results"),
    ]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all("PASS: 1 tests passed" in out for out in outs), outs
    assert len(_spans(tmp_path / "events.make")) == 1  # built once, reused by the other
    guests = _spans(tmp_path / "guests")
    assert len(guests) == 2 and guests[1][0] >= guests[0][1], guests  # never at once
    runs = sorted(d.name for d in (tmp_path / "results").iterdir() if d.name != "latest")
    assert len(runs) == 2 and len(set(runs)) == 2
