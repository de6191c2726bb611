"""--jobs N through Pipeline.execute with a fake vng: the tests dealt to guests that run
side by side, their results merged into one report, splats and problems naming their
guest, a hung guest killed while the others' results survive; --jobs 1 as before."""

from __future__ import annotations

import json
import os
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import built_stack, make_image, make_series

from harness import shards
from harness.errors import ExitCode
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline

# A guest: finds its results dir (--rwdir) and what it was asked to run (--exec: --suite,
# --test, --kselftest, --units, -k), then plays each test file as $FAKE_GUESTS says (pass, fail,
# warn, panic, die, hang, usage), writes a junit.xml with a test per file and kselftest,
# and appends what it did to $FAKE_GUESTS.log.
FAKE_VNG = r"""
import json, os, shlex, sys, time
from pathlib import Path

argv = sys.argv[1:]
if "--dry-run" in argv:  # the kernel command line: long if FAKE_CMDLINE says so
    cmd = shlex.split(argv[argv.index("--exec") + 1])
    long = os.environ.get("FAKE_CMDLINE") == "long" or (
        os.environ.get("FAKE_CMDLINE") == "long-suites" and "--suite" in cmd
    )
    print("qemu-system-x86_64 -append " + shlex.quote("x" * (2100 if long else 600)))
    sys.exit(0)
# GUEST=HOST mounts (--image): the guest's paths, back to the host's
flags = ("--rwdir", "--rodir")
mounts = [a.split("=", 1) for i, a in enumerate(argv) if i and argv[i - 1] in flags]
mounts = [m if len(m) == 2 else [m[0], m[0]] for m in mounts]
def host(path):
    for guest, where in sorted(mounts, key=lambda m: -len(m[0])):
        if path == guest or path.startswith(guest + "/"):
            return Path(where + path[len(guest):])
    return Path(path)
res = host(argv[argv.index("--rwdir") + 1].split("=", 1)[0])
repo = host("/opt/xdp-harness/repo") if "--root" in argv else Path(argv[argv.index("--cwd") + 1])
cmd = shlex.split(argv[argv.index("--exec") + 1])
def values(flag):
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == flag]
keyword = cmd[cmd.index("-k") + 1] if "-k" in cmd else None
files = values("--test")
for suite in values("--suite"):
    found = (repo / "selftests" / suite).glob("test_*.py")
    files += sorted(str(p.relative_to(repo)) for p in found)
ksft = values("--kselftest")
for units in values("--units"):
    data = json.loads(host(units).read_text())
    files += data["tests"]
    ksft += data["kselftests"]
plays = json.loads(Path(os.environ["FAKE_GUESTS"]).read_text())
log = Path(os.environ["FAKE_GUESTS"] + ".log")
def note(event):
    with log.open("a") as f:
        f.write(json.dumps({"event": event, "rwdir": str(res), "time": time.time(),
                            "files": files, "kselftests": ksft, "exec": cmd}) + "\n")
print("[    0.000000] Linux version 6.12.117", flush=True)
print("harness-guest: start", flush=True)
note("start")
cases, failed = [], False
for f in files + ksft:
    if keyword and keyword not in f:
        continue
    play = plays.get(f, "pass")
    time.sleep(float(plays.get("sleep", 0)))
    print(f"{f}::test_ok " + ("FAILED" if play == "fail" else "PASSED"), flush=True)
    if play == "usage":
        print("ERROR: Wrong expression passed to '-k'", flush=True)
        print("harness-guest: pytest exit 4", flush=True)
        sys.exit(0)
    if play == "warn":
        print("[    5.000000] WARNING: CPU: 0 PID: 9 at net/core/dev.c:10 f+0x1/0x2", flush=True)
    if play == "panic":
        print("[    7.000000] Kernel panic - not syncing: Fatal exception", flush=True)
        sys.exit(255)
    if play == "die":
        print("virtme-ng-init: lost the console", flush=True)
        sys.exit(255)
    if play == "hang":
        time.sleep(60)
    if ":" in f:
        coll, _, test = f.partition(":")
        prefix = f"kselftest.{coll.replace('/', '.')}.{test.removesuffix('.py')}"
    else:
        prefix = f.removesuffix(".py").replace("/", ".")
    failed |= play == "fail"
    inner = '<failure message="boom"/>' if play == "fail" else ""
    cases.append(f'<testcase classname="{prefix}" name="test_ok" time="1.5">{inner}</testcase>')
(res / "junit.xml").write_text(
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
    + "".join(cases) + "</testsuite></testsuites>")
(res / "guest.json").write_text("{}")
note("end")
print(f"harness-guest: pytest exit {5 if not cases else int(failed)}", flush=True)
"""

FILES = ("test_a.py", "test_b.py", "test_c.py")  # in selftests/baseline


@pytest.fixture
def stack(harness_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A baseline series with three test files and a kselftest, its kernel built; a
    fake vng on PATH. Returns (repo, kernel tree)."""
    d = make_series(harness_repo, "baseline", selftests=("baseline",))
    with (d / "series.toml").open("a") as f:
        f.write('kselftests = ["net:x.py"]\n')
    for name in FILES:
        (harness_repo / "selftests/baseline" / name).write_text("")
    (harness_repo / "selftests/baseline/conftest.py").write_text("")
    tree, cache, key = built_stack(tmp_path, "baseline")
    ksft = cache.worktree(key) / "tools/testing/selftests/net/x.py"
    ksft.parent.mkdir(parents=True)
    ksft.write_text("#!/usr/bin/env python3\n")
    (tmp_path / "bin").mkdir()
    vng = tmp_path / "bin" / "vng"
    vng.write_text(f"#!{sys.executable}\n{FAKE_VNG}")
    vng.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GUESTS", str(tmp_path / "plays.json"))
    monkeypatch.setattr(shards, "available_memory", lambda: 64 * 1024**3)
    return harness_repo, tree


def _execute(
    stack: tuple[Path, Path],
    tmp_path: Path,
    jobs: int,
    plays: dict[str, object] | None = None,
    timeout: float = 30,
    keyword: str | None = None,
    image: Path | None = None,
    rerun_failures: bool = False,
) -> tuple[ExitCode, Pipeline]:
    repo, tree = stack
    (tmp_path / "plays.json").write_text(json.dumps(plays or {}))
    opts = Options(
        command="test",
        series=["baseline"],
        kernel_tree=tree,
        accel="tcg",
        timeout=timeout,
        boot_timeout=timeout,
        keyword=keyword,
        results_root=tmp_path / "results",
        jobs=jobs,
        image=image,
        rerun_failures=rerun_failures,
    )
    p = Pipeline(opts, repo, CacheLayout(tmp_path / "cache"), host_check=lambda stages: None)
    return p.execute(), p


def _guests(tmp_path: Path) -> list[dict[str, object]]:
    """What the fake guests did, one entry per start and end."""
    log = tmp_path / "plays.json.log"
    return [json.loads(line) for line in log.read_text().splitlines()]


def _results(p: Pipeline) -> dict[str, object]:
    data: dict[str, object] = json.loads((p.results / "results.json").read_text())
    return data


def _vng_commands(p: Pipeline) -> list[list[str]]:
    """The guest runner's command line of each vng the run started."""
    return [
        shlex.split(shlex.split(line)[-1]) for line in p.runner.log.lines if "vng --run" in line
    ]


ALL_TESTS = [
    "selftests.baseline.test_a::test_ok",
    "selftests.baseline.test_b::test_ok",
    "selftests.baseline.test_c::test_ok",
    "kselftest.net.x::test_ok",
]


def test_two_guests_run_side_by_side_and_their_results_merge(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    code, p = _execute(stack, tmp_path, jobs=2, plays={"sleep": 0.5})
    assert code == ExitCode.OK
    data = _results(p)
    assert data["verdict"] == "PASS: 4 tests passed, no splats"
    # every test once, in the order one guest runs them
    assert [t["name"] for t in data["tests"]] == ALL_TESTS  # type: ignore[attr-defined]
    # two guests, each with its own results dir (its only writable one) and console
    runs = _guests(tmp_path)
    starts = {e["rwdir"]: e for e in runs if e["event"] == "start"}
    ends = {e["rwdir"]: e for e in runs if e["event"] == "end"}
    assert sorted(starts) == [str(p.results / "guest-1"), str(p.results / "guest-2")]
    for g in ("guest-1", "guest-2"):
        assert (p.results / g / "console.log").read_text().count("harness-guest: start") == 1
        assert (p.results / g / "junit.xml").exists()
    # at the same time: each started before the other ended
    one, two = (str(p.results / g) for g in ("guest-1", "guest-2"))
    assert float(starts[two]["time"]) < float(ends[one]["time"])  # type: ignore[arg-type]
    assert float(starts[one]["time"]) < float(ends[two]["time"])  # type: ignore[arg-type]
    # the files and the kselftest dealt between them, each once, none by suite
    dealt = [(e["files"], e["kselftests"]) for e in (starts[one], starts[two])]
    assert dealt == [
        (["selftests/baseline/test_a.py", "selftests/baseline/test_c.py"], []),
        (["selftests/baseline/test_b.py"], ["net:x.py"]),
    ]
    for cmd, g in zip(_vng_commands(p), ("guest-1", "guest-2"), strict=True):
        assert "--suite" not in cmd
        assert "--test" not in cmd
        # what it runs is in a file: vng puts the command in the kernel's command line
        assert cmd[cmd.index("--units") + 1] == str(p.results / g / "units.json")
    # one junit.xml for CI with both guests' tests
    junit = ET.parse(p.results / "junit.xml").getroot()
    assert [s.get("hostname") for s in junit.findall("testsuite")] == ["guest-1", "guest-2"]
    assert len(junit.findall(".//testcase")) == 4
    guests = data["guests"]
    assert [g["name"] for g in guests] == ["guest-1", "guest-2"]  # type: ignore[attr-defined]
    assert [g["tests"] for g in guests] == [2, 2]  # type: ignore[attr-defined]
    assert data["timings"]["guest_tests"] == max(  # type: ignore[index]
        g["tests_seconds"]
        for g in guests  # type: ignore[attr-defined]
    )
    summary = (p.results / "summary.txt").read_text()
    assert "  guests   2 side by side\n    guest-1  2 units" in summary


def test_jobs_1_runs_every_suite_in_one_guest_as_before(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    code, p = _execute(stack, tmp_path, jobs=1)
    assert code == ExitCode.OK
    (cmd,) = _vng_commands(p)
    assert cmd[cmd.index("--results") + 1] == str(p.results)
    assert cmd[cmd.index("--suite") + 1] == "baseline"
    assert "--test" not in cmd
    assert cmd[cmd.index("--kselftest") + 1] == "net:x.py"
    vng = shlex.split(next(line for line in p.runner.log.lines if "vng --run" in line))
    assert vng[vng.index("--rwdir") + 1] == str(p.results)
    assert (p.results / "console.log").exists()
    assert not list(p.results.glob("guest-*"))
    data = _results(p)
    assert "guests" not in data
    assert [t["name"] for t in data["tests"]] == ALL_TESTS  # type: ignore[attr-defined]
    assert "guests" not in (p.results / "summary.txt").read_text()


def test_one_guest_whose_command_line_is_too_long_gets_its_tests_in_a_file(
    stack: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vng hands the guest command over in the kernel's command line (2048 bytes on
    x86): too long with --suite, the tests go to units.json, every one still runs."""
    monkeypatch.setenv("FAKE_CMDLINE", "long-suites")
    code, p = _execute(stack, tmp_path, jobs=1)
    assert code == ExitCode.OK
    (cmd,) = _vng_commands(p)
    assert "--suite" not in cmd and "--kselftest" not in cmd
    assert cmd[cmd.index("--units") + 1] == str(p.results / "units.json")
    assert [t["name"] for t in _results(p)["tests"]] == ALL_TESTS  # type: ignore[attr-defined]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_command_line_too_long_anyway_is_refused_before_the_boot(
    stack: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    monkeypatch.setenv("FAKE_CMDLINE", "long")
    code, p = _execute(stack, tmp_path, jobs=jobs)
    assert code == ExitCode.INFRA
    error = _results(p)["error"]
    assert "the guest's kernel command line would be 2100 bytes, over x86's 2047" in str(error)
    assert not (tmp_path / "plays.json.log").exists()  # no guest was started


def test_jobs_1_and_jobs_2_find_the_same(stack: tuple[Path, Path], tmp_path: Path) -> None:
    plays = {"selftests/baseline/test_b.py": "fail"}
    one_code, one = _execute(stack, tmp_path, jobs=1, plays=plays)
    two_code, two = _execute(stack, tmp_path, jobs=2, plays=plays)
    assert one_code == two_code == ExitCode.FAILED
    assert one.report.tests == two.report.tests
    assert one.report.verdict == two.report.verdict == "FAIL: 1 test(s) failed"


def test_a_single_unit_is_one_guest_whatever_the_jobs(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, _ = stack
    for name in ("test_b.py", "test_c.py"):
        (repo / "selftests/baseline" / name).unlink()
    (repo / "patches/baseline/series.toml").write_text(
        (repo / "patches/baseline/series.toml").read_text().replace('"net:x.py"', "")
    )
    code, p = _execute(stack, tmp_path, jobs=4)
    assert code == ExitCode.OK
    (cmd,) = _vng_commands(p)
    assert "--suite" in cmd
    assert (p.results / "console.log").exists()


def test_a_splat_names_the_guest_it_happened_in(stack: tuple[Path, Path], tmp_path: Path) -> None:
    code, p = _execute(stack, tmp_path, jobs=2, plays={"selftests/baseline/test_b.py": "warn"})
    assert code == ExitCode.FAILED
    data = _results(p)
    (splat,) = data["splats"]  # type: ignore[misc]
    assert splat["guest"] == "guest-2"
    assert splat["summary"].startswith("WARNING at guest-2/console.log line ")
    assert "kernel splat(s): WARNING" in str(data["verdict"])
    assert "SPLAT    WARNING at guest-2/console.log line" in (p.results / "summary.txt").read_text()
    # the line is the guest's console's
    lines = (p.results / "guest-2/console.log").read_text().splitlines()
    assert "WARNING: CPU: 0" in lines[splat["console_line"] - 1]
    assert len(data["tests"]) == 4  # type: ignore[arg-type]


def test_a_hung_guest_is_killed_and_the_others_results_survive(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    code, p = _execute(
        stack, tmp_path, jobs=2, plays={"selftests/baseline/test_c.py": "hang"}, timeout=3
    )
    assert code == ExitCode.INFRA
    data = _results(p)
    error = str(data["error"])
    assert error.startswith("guest-1: VM did not finish within 3s: hung, killed; console kept")
    assert "no results from: selftests/baseline/test_a.py, selftests/baseline/test_c.py" in error
    assert f"read {p.results / 'guest-1/console.log'}" in error
    assert "VM killed: run timeout" in (p.results / "guest-1/console.log").read_text()
    # guest-2's tests are in the report and the junit.xml
    assert [t["name"] for t in data["tests"]] == [  # type: ignore[attr-defined]
        "selftests.baseline.test_b::test_ok",
        "kselftest.net.x::test_ok",
    ]
    assert len(ET.parse(p.results / "junit.xml").getroot().findall(".//testcase")) == 2
    guests = data["guests"]
    assert guests[0]["problem"].startswith("guest-1: VM did not finish")  # type: ignore[index]
    assert guests[1]["problem"] == ""  # type: ignore[index]
    assert data["verdict"] == "ERROR: infrastructure"


def test_a_splat_decides_over_a_hung_guest(stack: tuple[Path, Path], tmp_path: Path) -> None:
    plays = {"selftests/baseline/test_c.py": "hang", "selftests/baseline/test_b.py": "warn"}
    code, p = _execute(stack, tmp_path, jobs=2, plays=plays, timeout=3)
    assert code == ExitCode.FAILED
    assert "guest-1: VM did not finish" in str(_results(p)["error"])


def test_a_panicking_guest_fails_the_run_on_its_splat(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    code, p = _execute(stack, tmp_path, jobs=2, plays={"selftests/baseline/test_a.py": "panic"})
    assert code == ExitCode.FAILED
    data = _results(p)
    assert [s["guest"] for s in data["splats"]] == ["guest-1"]  # type: ignore[attr-defined]
    assert data["guests"][0]["problem"] == (  # type: ignore[index]
        "the kernel splatted (panic) before the tests finished"
    )
    assert len(data["tests"]) == 2  # type: ignore[arg-type]


def test_a_guest_that_dies_is_infrastructure_naming_it(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    code, p = _execute(stack, tmp_path, jobs=2, plays={"net:x.py": "die"})
    assert code == ExitCode.INFRA
    error = str(_results(p)["error"])
    assert error.startswith("guest-2: the guest exited (status 255) before the tests finished")
    assert "lost the console" in error


def test_a_keyword_one_guest_has_no_test_for_passes(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    code, p = _execute(stack, tmp_path, jobs=2, keyword="test_b")
    assert code == ExitCode.OK
    data = _results(p)
    assert [g["pytest_exit"] for g in data["guests"]] == [5, 0]  # type: ignore[attr-defined]
    assert [t["name"] for t in data["tests"]] == [  # type: ignore[attr-defined]
        "selftests.baseline.test_b::test_ok"
    ]


def test_a_keyword_no_guest_has_a_test_for_is_exit_2_once(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    code, p = _execute(stack, tmp_path, jobs=2, keyword="no_such_test")
    assert code == ExitCode.USAGE
    assert str(_results(p)["error"]).startswith("-k 'no_such_test' selected no tests")


def test_a_bad_keyword_in_every_guest_is_reported_once(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    plays = {f"selftests/baseline/{f}": "usage" for f in FILES} | {"net:x.py": "usage"}
    code, p = _execute(stack, tmp_path, jobs=2, plays=plays)
    assert code == ExitCode.USAGE
    error = str(_results(p)["error"])
    assert error.count("pytest exit 4") == 1
    assert not error.startswith("guest-")


def test_the_costs_of_the_last_run_balance_the_next(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    earlier = tmp_path / "results/20260101-000000-baseline"
    earlier.mkdir(parents=True)
    tests = [
        {"name": "selftests.baseline.test_a::t", "duration": 100.0},
        {"name": "selftests.baseline.test_b::t", "duration": 10.0},
        {"name": "selftests.baseline.test_c::t", "duration": 10.0},
        {"name": "kselftest.net.x::t", "duration": 10.0},
    ]
    (earlier / "results.json").write_text(json.dumps({"tests": tests}))
    code, p = _execute(stack, tmp_path, jobs=2)
    assert code == ExitCode.OK
    assert [g["units"] for g in _results(p)["guests"]] == [  # type: ignore[attr-defined]
        ["selftests/baseline/test_a.py"],
        ["selftests/baseline/test_b.py", "selftests/baseline/test_c.py", "net:x.py"],
    ]


def test_without_previous_runs_the_committed_costs_deal_the_units(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, _ = stack
    base = "selftests/baseline/"
    costs = {base + "test_a.py": 1, base + "test_b.py": 1, base + "test_c.py": 50, "net:x.py": 1}
    (repo / shards.COST_HINTS).write_text(json.dumps({"costs": costs}))
    code, p = _execute(stack, tmp_path, jobs=2)
    assert code == ExitCode.OK
    assert [g["units"] for g in _results(p)["guests"]] == [  # type: ignore[attr-defined]
        [base + "test_c.py"],
        [base + "test_a.py", base + "test_b.py", "net:x.py"],
    ]


def test_no_more_guests_than_the_memory_holds(
    stack: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(shards, "available_memory", lambda: 6 * 1024**3)
    code, p = _execute(stack, tmp_path, jobs=4)
    assert code == ExitCode.OK
    assert [g["name"] for g in _results(p)["guests"]] == ["guest-1", "guest-2"]  # type: ignore[attr-defined]
    assert "--jobs 4: the available memory holds 2 guests of 2G" in capsys.readouterr().err


def test_the_memory_fit_uses_the_series_guest_memory(
    stack: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = stack
    with (repo / "patches/baseline/series.toml").open("a") as f:
        f.write('[vm]\nmemory = "3G"\n')
    # 6 GiB hold two guests of the default 2G, one of 3G (each with QEMU's overhead)
    monkeypatch.setattr(shards, "available_memory", lambda: 6 * 1024**3)
    code, p = _execute(stack, tmp_path, jobs=2)
    assert code == ExitCode.OK
    assert "guests" not in _results(p)
    assert "--jobs 2: the available memory holds 1 guest of 3072M" in capsys.readouterr().err


def test_the_live_view_names_the_guest(
    stack: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _execute(stack, tmp_path, jobs=2)
    assert code == ExitCode.OK
    err = capsys.readouterr().err.splitlines()
    assert "    [guest-2] selftests/baseline/test_b.py::test_ok PASSED" in err
    assert "    [guest-1] selftests/baseline/test_a.py::test_ok PASSED" in err
    assert any(
        line.startswith("    guest-2: 2 units, ~2s: baseline/test_b.py, net:x.py") for line in err
    )


def test_the_command_lines_jobs_default_to_one_more_than_the_host_cpus(
    harness_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness import cli

    make_series(harness_repo, "baseline", selftests=("baseline",))
    seen: list[Options] = []

    class Recorder:
        def __init__(self, opts: Options, repo: Path, cache: CacheLayout) -> None:
            seen.append(opts)

        def execute(self) -> ExitCode:
            return ExitCode.OK

    monkeypatch.setattr(cli, "Pipeline", Recorder)
    monkeypatch.setattr(shards, "host_cpus", lambda: 3)
    monkeypatch.setenv("HARNESS_REPO", str(harness_repo))
    assert cli.main(["test", "--series", "baseline"]) == 0
    assert cli.main(["run", "--series", "baseline", "-j", "1"]) == 0
    assert cli.main(["run", "--all", "--jobs", "2"]) == 0
    assert [o.jobs for o in seen] == [4, 1, 2]
    with pytest.raises(SystemExit) as info:
        cli.main(["test", "--series", "baseline", "--jobs", "0"])
    assert info.value.code == 2
    assert "want a number of guests (1 or more), got '0'" in capsys.readouterr().err


def test_guests_of_an_image_each_mount_their_own_results(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    """--image --jobs 2: each guest's one writable mount is its own guest-<n>/, at the
    image's results mount point, and its units file is handed over as the guest sees it."""
    img = make_image(tmp_path / "img")
    code, p = _execute(stack, tmp_path, jobs=2, image=img)
    assert code == ExitCode.OK, p.report.error
    assert sorted(t.name for t in p.report.tests) == sorted(ALL_TESTS)
    vngs = [shlex.split(line) for line in p.runner.log.lines if "vng --run" in line]
    assert len(vngs) == 2
    rwdirs = sorted(v[v.index("--rwdir") + 1] for v in vngs)
    assert rwdirs == [f"/opt/xdp-harness/results={p.results}/guest-{n}" for n in (1, 2)]
    for cmd in _vng_commands(p):
        assert cmd[cmd.index("--units") + 1] == "/opt/xdp-harness/results/units.json"
        assert cmd[cmd.index("--results") + 1] == "/opt/xdp-harness/results"


def test_the_rerun_guest_of_an_image_writes_only_into_rerun(
    stack: tuple[Path, Path], tmp_path: Path
) -> None:
    img = make_image(tmp_path / "img")
    code, p = _execute(
        stack,
        tmp_path,
        jobs=1,
        plays={"selftests/baseline/test_b.py": "fail"},
        image=img,
        rerun_failures=True,
    )
    assert code == ExitCode.FAILED
    vngs = [shlex.split(line) for line in p.runner.log.lines if "vng --run" in line]
    assert [v[v.index("--rwdir") + 1] for v in vngs] == [
        f"/opt/xdp-harness/results={p.results}",
        f"/opt/xdp-harness/results={p.results}/rerun",
    ]
    # (this fake guest names tests by file, so it cannot answer the rerun's node ids)
    assert list(p.report.reruns) == ["selftests.baseline.test_b::test_ok"]
