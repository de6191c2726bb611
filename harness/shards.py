"""Several guests for one run (--jobs N): the run's tests dealt to N shards, a guest each.

A TCG guest runs single-threaded: one guest keeps one host core busy. With N cores, a
run's tests are split into units, each unit a test file of a suite
(``selftests/feature-flags/test_enforce_veth.py``; upstream's prog_tests run from
``selftests/baseline/test_bpf_selftests.py``, one file) or a kselftest of the stack
(``net:nl_netdev.py``). A unit costs what its tests took in the stack's previous runs
(their results.json, the longest of the last HISTORY runs: a ``-k`` run ran only part
of a file), plus UNIT_OVERHEAD; without previous runs (a fresh machine, CI), what
COST_HINTS gives; a unit never seen costs the mean of the known ones (1 s each when none
is known: then the shards get as many units each). The units are dealt
longest first, each to the shard with the least cost so far (ties: the lower
number): the same units and costs always give the same shards.

Each shard boots its own guest, with its own results subdirectory (``guest-<i>/``:
console.log, junit.xml, guest.json, kselftests/), the only directory it may write;
the kernel, the repository, BPF objects and tools built before the boot are shared,
read-only. Their junit.xml files are merged into the run's (merge_junit) and their
tests ordered as one guest would have run them (order_tests).
"""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.kselftests import Kselftest, parse_name
from harness.report import TestResult
from harness.ui import warn

HISTORY = 10  # previous runs of the stack read for the costs
UNIT_OVERHEAD = 1.0  # seconds a unit costs beyond its tests' durations (collecting it)
# What a guest needs of the host's memory beyond its own (QEMU, vng, its 9p server).
GUEST_OVERHEAD = 512 * 1024**2
UNITS_FILE = "units.json"  # in a guest's results directory: what it runs
# Costs per unit from a run, committed: the fallback when the stack has no runs here.
COST_HINTS = "selftests/unit-costs.json"
# pytest's default python_files
_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")


@dataclass(frozen=True, order=True)
class Unit:
    """What a shard gets whole: a test file, or a kselftest."""

    kind: str  # file (a path relative to the repository) | kselftest (collection:test)
    name: str

    @property
    def prefix(self) -> str:
        """How its tests' names start in junit.xml and results.json (pytest's junit
        form of the node id): selftests.baseline.test_x, kselftest.net.nl_netdev."""
        path = parse_name(self.name).test_id if self.kind == "kselftest" else self.name
        return re.sub(r"\.py$", "", path).replace("/", ".")


@dataclass(frozen=True)
class Shard:
    """The units one guest runs, and what they are expected to cost."""

    index: int  # 1-based
    units: tuple[Unit, ...]
    cost: float  # estimated seconds

    @property
    def name(self) -> str:
        """Its guest's name, and its results subdirectory."""
        return f"guest-{self.index}"

    @property
    def tests(self) -> list[str]:
        return [u.name for u in self.units if u.kind == "file"]

    @property
    def kselftests(self) -> list[str]:
        return [u.name for u in self.units if u.kind == "kselftest"]

    def write_units(self, results: Path) -> Path:
        """<results>/units.json, what the guest runner's --units reads: not on its
        command line, which vng hands to the guest in the kernel's command line (2048
        bytes on x86: longer, and it is cut, init= with it: the guest panics at boot)."""
        path = results / UNITS_FILE
        path.write_text(json.dumps({"tests": self.tests, "kselftests": self.kselftests}))
        return path


def units(repo: Path, suites: Iterable[str], kselftests: Iterable[Kselftest]) -> list[Unit]:
    """Every test file of the suites, in suite order (pytest's file names, sorted),
    then the kselftests: what one guest runs, as units."""
    found: list[Unit] = []
    for suite in suites:
        root = repo / "selftests" / suite
        files = sorted(
            p.relative_to(repo).as_posix()
            for p in root.rglob("*.py")
            if _TEST_FILE.match(p.name)
            and not any(part.startswith((".", "__")) for part in p.relative_to(root).parts)
        )
        found += [Unit("file", f) for f in files]
    found += [Unit("kselftest", t.name) for t in kselftests]
    return found


def unit_of(test_name: str, candidates: Sequence[Unit]) -> Unit | None:
    """The unit a test of the results belongs to (the longest matching prefix)."""
    best: Unit | None = None
    for u in candidates:
        p = u.prefix
        if (test_name == p or test_name.startswith((p + "::", p + "."))) and (
            best is None or len(p) > len(best.prefix)
        ):
            best = u
    return best


def previous_costs(
    results_root: Path, key: str, candidates: Sequence[Unit], exclude: Path | None = None
) -> dict[Unit, float]:
    """Seconds each unit's tests took in the stack's previous runs
    (<results root>/<stamp>-<key>[-n]/results.json, newest first, the last HISTORY with
    tests): the longest of them. Units without any are left out."""
    run_id = re.compile(rf"^\d{{8}}-\d{{6}}-{re.escape(key)}(?:-\d+)?$")
    try:
        names = sorted(
            (d.name for d in results_root.iterdir() if run_id.match(d.name)), reverse=True
        )
    except OSError:
        return {}
    costs: dict[Unit, float] = {}
    read = 0
    for name in names:
        if read >= HISTORY:
            break
        if exclude is not None and results_root / name == exclude:
            continue
        try:
            tests = json.loads((results_root / name / "results.json").read_text())["tests"]
            durations = test_durations(tests)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not durations:
            continue
        read += 1
        for u, seconds in unit_costs(durations, candidates).items():
            costs[u] = max(costs.get(u, 0.0), seconds)
    return costs


def test_durations(tests: Iterable[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """(name, seconds) of results.json's tests; KeyError, ValueError or TypeError for a
    test without them."""
    return [(str(t["name"]), float(t["duration"])) for t in tests]


def unit_costs(
    durations: Iterable[tuple[str, float]], candidates: Sequence[Unit]
) -> dict[Unit, float]:
    """Seconds per unit: the durations of its tests (name, seconds) summed; a test
    named as the unit itself (a kselftest's whole run, beside its subtests) is the
    unit's cost alone, its parts not added to it again."""
    parts: dict[Unit, float] = {}
    whole: dict[Unit, float] = {}
    for test, seconds in durations:
        u = unit_of(test, candidates)
        if u is None:
            continue
        if test == u.prefix:
            whole[u] = whole.get(u, 0.0) + seconds
        else:
            parts[u] = parts.get(u, 0.0) + seconds
    return {**parts, **whole}


def hinted_costs(repo: Path, candidates: Sequence[Unit]) -> dict[Unit, float]:
    """The costs COST_HINTS gives (a run's, committed with the suites: what a machine
    without previous runs, CI's, deals by); units it does not name are left out. A
    file that cannot be read is a warning (it only balances the guests): no hints."""
    path = repo / COST_HINTS
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        hints = {str(k): float(v) for k, v in data["costs"].items()}
        bad = [k for k, v in hints.items() if not math.isfinite(v) or v < 0]
        if bad:
            raise ValueError(f"not a number of seconds for {', '.join(bad)}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        warn(
            f"{path}: not a cost file ({exc}); the guests get as many units each. "
            f"Fix: harness costs results/<run-id> > {COST_HINTS}, or remove it"
        )
        return {}
    return {u: hints[u.name] for u in candidates if u.name in hints}


def costs_document(
    durations: Iterable[tuple[str, float]], candidates: Sequence[Unit], run: str
) -> str:
    """COST_HINTS' text for a run's test durations: seconds per unit, by name."""
    costs = unit_costs(durations, candidates)
    doc = {
        "about": "seconds each unit's tests took in one run; how --jobs deals units when "
        "the stack has no previous runs (harness.shards)",
        "run": run,
        "costs": {u.name: round(c, 1) for u, c in sorted(costs.items(), key=lambda i: i[0].name)},
    }
    return json.dumps(doc, indent=1) + "\n"


def plan(candidates: Sequence[Unit], jobs: int, known: Mapping[Unit, float]) -> list[Shard]:
    """The units dealt to min(jobs, units) shards, longest first, each to the shard
    with the least so far (ties: the lower number); in each shard, the units in their
    given order."""
    n = min(jobs, len(candidates))
    if n < 1:
        return []
    fallback = sum(known.values()) / len(known) if known else 0.0
    cost = [known.get(u, fallback) + UNIT_OVERHEAD for u in candidates]
    loads = [0.0] * n
    members: list[list[int]] = [[] for _ in range(n)]
    for i in sorted(range(len(candidates)), key=lambda i: (-cost[i], i)):
        k = min(range(n), key=lambda k: (loads[k], k))
        members[k].append(i)
        loads[k] += cost[i]
    return [
        Shard(k + 1, tuple(candidates[i] for i in sorted(members[k])), round(loads[k], 1))
        for k in range(n)
    ]


def merge_junit(parts: Sequence[tuple[str, Path]], out: Path) -> None:
    """One junit.xml of the guests' (name, junit.xml) that exist: each guest's
    <testsuite> kept whole, its hostname the guest's name."""
    root = ET.Element("testsuites", {"name": "pytest tests"})
    for name, path in parts:
        if not path.exists():
            continue
        top = ET.parse(path).getroot()
        for suite in [top] if top.tag == "testsuite" else top.findall("testsuite"):
            suite.set("hostname", name)
            root.append(suite)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)


def order_tests(tests: Iterable[TestResult], candidates: Sequence[Unit]) -> list[TestResult]:
    """The tests in the order of their units (as one guest runs them), each unit's in
    the order its guest ran them; tests of no unit last."""
    index = {u: i for i, u in enumerate(candidates)}

    def key(t: TestResult) -> int:
        u = unit_of(t.name, candidates)
        return len(candidates) if u is None else index[u]

    return sorted(tests, key=key)


def host_cpus() -> int:
    """The CPUs this process may run on (its affinity set), else the host's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs() -> int:
    """Guests side by side when --jobs is not given: one more than the CPUs. A TCG guest
    running these suites keeps a host core about 60% busy (it waits for frames, for
    silence, for the kernel's workers): with --all on 2 cores, 1 guest took 604 s of VM
    time, 2 guests 356 s, 3 guests 290 s, 4 guests 314 s (their boots competing)."""
    return host_cpus() + 1


def size_bytes(size: str) -> int:
    """QEMU's memory sizes: 2G, 512M, 1024K, plain bytes."""
    m = re.fullmatch(r"(\d+)([KMGT]?)B?", size.strip().upper())
    if not m:
        raise ValueError(f"not a memory size: {size!r}")
    return int(m[1]) << (10 * " KMGT".index(m[2] or " "))


def available_memory(meminfo: str | None = None) -> int | None:
    """MemAvailable of /proc/meminfo, in bytes; None when it cannot be read."""
    if meminfo is None:
        try:
            meminfo = Path("/proc/meminfo").read_text()
        except OSError:
            return None
    m = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo, re.M)
    return int(m[1]) * 1024 if m else None


def fit_memory(jobs: int, guest_memory: str, available: int | None) -> int:
    """As many guests as asked for, but no more than the available memory holds
    (each its memory and GUEST_OVERHEAD); at least one."""
    if available is None:
        return jobs
    return max(1, min(jobs, available // (size_bytes(guest_memory) + GUEST_OVERHEAD)))
