"""harness.shards: the units of a run, their costs, the shards, the merge of the guests'
junit.xml, how many guests the host holds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness import report, shards
from harness.kselftests import parse_name
from harness.report import GuestReport, RunReport, parse_junit
from harness.shards import Shard, Unit
from harness.splats import Splat


def F(name: str) -> Unit:
    return Unit("file", name)


def K(name: str) -> Unit:
    return Unit("kselftest", name)


def _junit(*cases: tuple[str, str, str]) -> str:
    """A pytest junit.xml with (classname, name, outcome) test cases."""
    body = ""
    for classname, name, outcome in cases:
        inner = {"passed": "", "failed": '<failure message="boom"/>'}[outcome]
        body += f'<testcase classname="{classname}" name="{name}" time="0.5">{inner}</testcase>'
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
        f'<testsuite name="pytest" tests="{len(cases)}">{body}</testsuite></testsuites>'
    )


# -- units ---------------------------------------------------------------------------------


def test_units_are_the_test_files_of_each_suite_then_the_kselftests(harness_repo: Path) -> None:
    for rel in (
        "baseline/test_b.py",
        "baseline/test_a.py",
        "baseline/conftest.py",
        "baseline/helpers.py",
        "baseline/progs/test_prog.bpf.c",
        "baseline/__pycache__/test_a.cpython-311.pyc",
        "baseline/sub/test_deep.py",
        "baseline/.hidden/test_no.py",
        "ff/check_test.py",
        "ff/test_c.py",
    ):
        f = harness_repo / "selftests" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("")
    ksft = [parse_name("net:nl_netdev.py"), parse_name("drivers/net:ping.sh")]
    assert shards.units(harness_repo, ["baseline", "ff"], ksft) == [
        F("selftests/baseline/sub/test_deep.py"),
        F("selftests/baseline/test_a.py"),
        F("selftests/baseline/test_b.py"),
        F("selftests/ff/check_test.py"),
        F("selftests/ff/test_c.py"),
        K("net:nl_netdev.py"),
        K("drivers/net:ping.sh"),
    ]


def test_a_units_prefix_is_how_junit_names_its_tests() -> None:
    assert F("selftests/feature-flags/test_enforce_veth.py").prefix == (
        "selftests.feature-flags.test_enforce_veth"
    )
    assert K("net:nl_netdev.py").prefix == "kselftest.net.nl_netdev"
    assert K("drivers/net:ping.sh").prefix == "kselftest.drivers.net.ping.sh"


def test_a_test_belongs_to_the_unit_with_the_longest_prefix() -> None:
    units = [F("selftests/s/test_a.py"), K("net:a"), K("net:a.sh"), F("selftests/s/test_ab.py")]
    assert shards.unit_of("selftests.s.test_a::test_x[1]", units) == units[0]
    assert shards.unit_of("selftests.s.test_a.TestC::test_y", units) == units[0]
    assert shards.unit_of("selftests.s.test_ab::test_x", units) == units[3]
    assert shards.unit_of("kselftest.net.a.sh::a.one", units) == units[2]
    assert shards.unit_of("kselftest.net.a.sh", units) == units[2]
    assert shards.unit_of("kselftest.net.a::x", units) == units[1]
    assert shards.unit_of("selftests.other.test_a::x", units) is None


# -- plan ----------------------------------------------------------------------------------


def test_longest_first_balances_known_costs() -> None:
    units = [F(f"selftests/s/test_{i}.py") for i in range(8)]
    costs = dict(zip(units, [60.0, 28.0, 22.0, 21.0, 20.0, 11.0, 8.0, 7.0], strict=True))
    plan = shards.plan(units, 2, costs)
    assert [s.index for s in plan] == [1, 2]
    assert sorted(u for s in plan for u in s.units) == sorted(units)  # each exactly once
    loads = [sum(costs[u] + shards.UNIT_OVERHEAD for u in s.units) for s in plan]
    assert [s.cost for s in plan] == loads
    assert loads == [91.0, 94.0]  # 185 in all: as even as whole files allow
    # each shard keeps the units in the run's order
    for s in plan:
        assert list(s.units) == sorted(s.units, key=units.index)


def test_the_plan_is_deterministic() -> None:
    units = [F(f"selftests/s/test_{i:02}.py") for i in range(20)]
    rng = random.Random(7)
    costs = {u: float(rng.randrange(1, 30)) for u in units}
    first = shards.plan(units, 3, costs)
    shuffled = dict(sorted(costs.items(), key=lambda kv: rng.random()))
    assert shards.plan(units, 3, shuffled) == first
    assert shards.plan(list(units), 3, dict(costs)) == first


def test_without_history_the_shards_get_as_many_units_each() -> None:
    units = [F(f"selftests/s/test_{i}.py") for i in range(5)] + [K("net:a.py"), K("net:b.py")]
    plan = shards.plan(units, 2, {})
    assert [len(s.units) for s in plan] == [4, 3]
    assert plan[0].tests == [
        "selftests/s/test_0.py",
        "selftests/s/test_2.py",
        "selftests/s/test_4.py",
    ]
    assert plan[0].kselftests == ["net:b.py"]
    assert plan[1].kselftests == ["net:a.py"]


def test_units_without_history_cost_the_mean_of_the_known() -> None:
    a, b, c, d = (F(f"selftests/s/test_{n}.py") for n in "abcd")
    plan = shards.plan([a, b, c, d], 2, {a: 100.0, b: 10.0})
    # c and d cost 55 each: a then b, c then d
    assert [s.units for s in plan] == [(a, b), (c, d)]


def test_no_more_shards_than_units_and_none_without_units() -> None:
    units = [F("selftests/s/test_a.py"), K("net:a.py")]
    assert [s.name for s in shards.plan(units, 8, {})] == ["guest-1", "guest-2"]
    assert shards.plan([], 4, {}) == []
    assert shards.plan(units, 1, {}) == [Shard(1, tuple(units), 2.0)]


# -- the costs of previous runs --------------------------------------------------------------


def _run(root: Path, run_id: str, tests: list[tuple[str, float]] | str) -> Path:
    d = root / run_id
    d.mkdir(parents=True)
    if isinstance(tests, str):
        (d / "results.json").write_text(tests)
    else:
        data = {"tests": [{"name": n, "duration": s, "outcome": "passed"} for n, s in tests]}
        (d / "results.json").write_text(json.dumps(data))
    return d


def test_previous_costs_take_the_longest_of_the_stacks_recent_runs(tmp_path: Path) -> None:
    root = tmp_path / "results"
    a, b, k = F("selftests/s/test_a.py"), F("selftests/s/test_b.py"), K("net:x.py")
    _run(
        root,
        "20261201-100000-ff",
        [("selftests.s.test_a::t1", 10.0), ("selftests.s.test_a::t2", 5)],
    )
    _run(root, "20261202-100000-ff", [("selftests.s.test_a::t1", 3.0), ("kselftest.net.x", 7.5)])
    _run(root, "20261202-100000-ff-2", [("selftests.s.test_b::t", 2.0)])
    _run(root, "20261203-100000-ff+xdp-stats", [("selftests.s.test_b::t", 99.0)])  # another stack
    _run(root, "20261203-100001-bench-ff", [("selftests.s.test_b::t", 99.0)])  # a bench
    _run(root, "20261203-100002-ff", '{"tests": [')  # cut short: skipped
    now = _run(root, "20261203-100003-ff", [("selftests.s.test_b::t", 99.0)])  # this run
    costs = shards.previous_costs(root, "ff", [a, b, k], exclude=now)
    assert costs == {a: 15.0, b: 2.0, k: 7.5}


def test_previous_costs_read_only_the_last_runs(tmp_path: Path) -> None:
    root = tmp_path / "results"
    a = F("selftests/s/test_a.py")
    _run(root, "20261101-000000-ff", [("selftests.s.test_a::t", 500.0)])
    for i in range(shards.HISTORY):
        _run(root, f"20261201-0000{i:02}-ff", [("selftests.s.test_a::t", float(i))])
    assert shards.previous_costs(root, "ff", [a]) == {a: float(shards.HISTORY - 1)}
    assert shards.previous_costs(tmp_path / "none", "ff", [a]) == {}


def test_a_kselftests_whole_run_is_its_cost_not_added_to_its_subtests() -> None:
    k, a = K("net:x.py"), F("selftests/s/test_a.py")
    durations = [
        ("kselftest.net.x", 20.0),  # the whole script
        ("kselftest.net.x::x.one", 12.0),  # its subtests, within those 20 s
        ("kselftest.net.x::x.two", 7.0),
        ("selftests.s.test_a::t", 3.0),
    ]
    assert shards.unit_costs(durations, [k, a]) == {k: 20.0, a: 3.0}


# -- the committed cost hints (a machine without previous runs) ------------------------------


def _hints(repo: Path, costs: object) -> None:
    path = repo / shards.COST_HINTS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"costs": costs}))


def test_cost_hints_name_units_by_their_names(tmp_path: Path) -> None:
    a, b, k = F("selftests/s/test_a.py"), F("selftests/s/test_b.py"), K("net:x.py")
    _hints(tmp_path, {"selftests/s/test_a.py": 30.0, "net:x.py": 5, "selftests/gone.py": 1})
    assert shards.hinted_costs(tmp_path, [a, b, k]) == {a: 30.0, k: 5.0}
    assert shards.hinted_costs(tmp_path / "nothing", [a, b, k]) == {}


@pytest.mark.parametrize(
    "costs", [["a"], {"selftests/s/test_a.py": "slow"}, {"selftests/s/test_a.py": -1}]
)
def test_a_broken_cost_file_is_a_warning_naming_it_and_no_hints(
    tmp_path: Path, costs: object, capsys: pytest.CaptureFixture[str]
) -> None:
    _hints(tmp_path, costs)
    assert shards.hinted_costs(tmp_path, [F("selftests/s/test_a.py")]) == {}
    err = capsys.readouterr().err
    assert f"{tmp_path / shards.COST_HINTS}: not a cost file" in err
    assert "harness costs results/<run-id>" in err


def test_the_cost_document_is_what_hinted_costs_reads(tmp_path: Path) -> None:
    a, k = F("selftests/s/test_a.py"), K("net:x.py")
    tests = [
        {"name": "selftests.s.test_a::t1", "duration": 2.25},
        {"name": "selftests.s.test_a::t2", "duration": 1.0},
        {"name": "kselftest.net.x", "duration": 9.0},
    ]
    doc = shards.costs_document(shards.test_durations(tests), [a, k], "run-1")
    (tmp_path / shards.COST_HINTS).parent.mkdir()
    (tmp_path / shards.COST_HINTS).write_text(doc)
    assert shards.hinted_costs(tmp_path, [a, k]) == {a: 3.2, k: 9.0}  # rounded to 0.1 s


# -- merging the guests' results -----------------------------------------------------------


def test_merged_junit_has_every_guests_tests_each_suite_naming_its_guest(tmp_path: Path) -> None:
    g1, g2 = tmp_path / "guest-1.xml", tmp_path / "guest-2.xml"
    g1.write_text(_junit(("selftests.s.test_b", "test_1", "passed")))
    g2.write_text(
        _junit(("selftests.s.test_a", "test_1", "failed"), ("kselftest.net.x", "x.one", "passed"))
    )
    out = tmp_path / "junit.xml"
    shards.merge_junit([("guest-1", g1), ("guest-2", g2), ("guest-3", tmp_path / "hung")], out)
    tests = parse_junit(out)
    assert [(t.name, t.outcome) for t in tests] == [
        ("selftests.s.test_b::test_1", "passed"),
        ("selftests.s.test_a::test_1", "failed"),
        ("kselftest.net.x::x.one", "passed"),
    ]
    import xml.etree.ElementTree as ET

    suites = ET.parse(out).getroot().findall("testsuite")
    assert [s.get("hostname") for s in suites] == ["guest-1", "guest-2"]


def test_tests_are_ordered_as_one_guest_runs_them() -> None:
    units = [F("selftests/s/test_a.py"), F("selftests/s/test_b.py"), K("net:x.py")]

    def t(name: str) -> report.TestResult:
        return report.TestResult(name, "passed", 1.0)

    got = shards.order_tests(
        [
            t("kselftest.net.x"),
            t("selftests.s.test_b::2"),
            t("other::z"),
            t("selftests.s.test_a::1"),
            t("selftests.s.test_b::1"),
        ],
        units,
    )
    assert [x.name for x in got] == [
        "selftests.s.test_a::1",
        "selftests.s.test_b::2",
        "selftests.s.test_b::1",
        "kselftest.net.x",
        "other::z",
    ]


def test_a_splat_names_its_guest_and_console() -> None:
    s = Splat("WARNING", 12, "[ 1.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1", guest="guest-2")
    assert s.summary() == (
        "WARNING at guest-2/console.log line 12: [ 1.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1"
    )
    one = Splat("WARNING", 12, "[ 1.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1")
    assert one.summary().startswith("WARNING at console line 12: ")


def test_results_json_has_guests_only_when_several_ran(tmp_path: Path) -> None:
    r = RunReport(run_id="r", command="harness test", series=["s"], suites=["s"])
    r.splats = [Splat("BUG", 3, "[ 1.0] BUG: x")]
    data = json.loads(r.to_json())
    assert "guests" not in data
    assert "guest" not in data["splats"][0]
    r.splats = [Splat("BUG", 3, "[ 1.0] BUG: x", guest="guest-1")]
    r.guests = [
        GuestReport("guest-1", ["selftests/s/test_a.py"], 12.0, 9.5, 100.25, 0, 4),
        GuestReport("guest-2", ["net:x.py"], 11.0, 9.0, None, None, 0, "guest-2: VM hung"),
    ]
    data = json.loads(r.to_json())
    assert data["splats"][0]["guest"] == "guest-1"
    assert data["guests"][1] == {
        "name": "guest-2",
        "units": ["net:x.py"],
        "estimate": 11.0,
        "boot_seconds": 9.0,
        "tests_seconds": None,
        "pytest_exit": None,
        "tests": 0,
        "problem": "guest-2: VM hung",
    }
    text = r.summary_text(tmp_path)
    assert "  guests   2 side by side" in text
    assert "    guest-1  1 units (~12s), boot 9.5s, tests 100.2s, 4 results, pytest exit 0" in text
    assert (
        "    guest-2  1 units (~11s), boot 9.0s, tests ?, 0 results, pytest exit None; "
        "guest-2: VM hung" in text
    )


# -- the host ------------------------------------------------------------------------------

MEMINFO = "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   %d kB\n"


@pytest.mark.parametrize(
    ("jobs", "available_kib", "fit"),
    [
        (2, 22 * 1024 * 1024, 2),  # this machine: 22 GiB available
        (16, 22 * 1024 * 1024, 8),  # 2.5 GiB a guest
        (4, 5 * 1024 * 1024, 2),
        (4, 1024 * 1024, 1),  # always one
    ],
)
def test_as_many_guests_as_the_memory_holds(jobs: int, available_kib: int, fit: int) -> None:
    available = shards.available_memory(MEMINFO % available_kib)
    assert available == available_kib * 1024
    assert shards.fit_memory(jobs, "2G", available) == fit


def test_memory_unknown_keeps_the_jobs_and_sizes_parse() -> None:
    assert shards.available_memory("MemTotal: 1 kB\n") is None
    assert shards.fit_memory(3, "2G", None) == 3
    assert shards.size_bytes("2G") == 2 * 1024**3
    assert shards.size_bytes("512M") == 512 * 1024**2
    assert shards.size_bytes("4096") == 4096
    with pytest.raises(ValueError, match="not a memory size"):
        shards.size_bytes("lots")


def test_host_cpus_is_the_affinity_set() -> None:
    import os

    assert shards.host_cpus() == len(os.sched_getaffinity(0))


def test_a_shards_units_go_to_its_guest_in_a_file(tmp_path: Path) -> None:
    shard = Shard(2, (F("selftests/s/test_a.py"), K("net:x.py"), F("selftests/t/test_b.py")), 9)
    path = shard.write_units(tmp_path)
    assert path == tmp_path / "units.json"
    assert json.loads(path.read_text()) == {
        "tests": ["selftests/s/test_a.py", "selftests/t/test_b.py"],
        "kselftests": ["net:x.py"],
    }
