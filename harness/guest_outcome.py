"""What a guest's run amounts to: the plan it ran under (kernel, accelerator,
timeouts), and what went wrong with it as a whole (a timeout, an init that could not
start, an exit before its tests finished), one guest's or several guests' as one."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness import report, shards, splats, vm
from harness.errors import ExitCode, GuestInitFailed, HarnessError, InfraError, UsageError
from harness.pytest_status import NO_TESTS_COLLECTED, pytest_error
from harness.ui import warn


@dataclass(frozen=True)
class VmPlan:
    """How this run boots its guests: the kernel, the accelerator, the timeouts."""

    bzimage: Path
    accel: str
    boot_timeout: float
    timeout: float


# The kernel's panics when the guest's userspace cannot be started: a command line
# problem (init=, root=), not the kernel under test failing a test.
_INIT_FAILED = re.compile(
    r"Kernel panic - not syncing: (?:Requested init \S+ failed|No working init found"
    r"|VFS: Unable to mount root fs)[^\n]*"
)


def guest_problem(
    result: vm.VmResult, found: list[splats.Splat], plan: VmPlan, who: str = ""
) -> InfraError | None:
    """What went wrong with a guest as a whole: killed at a timeout, or gone before its
    tests finished without a splat to say why (a panic, Oops or BUG says it: the splat
    fails the run). ``who`` starts the message (which guest, when there are several)."""
    console = result.console
    if result.timed_out:
        boot = result.timed_out == "boot"
        what = "did not reach the test runner" if boot else "did not finish"
        return InfraError(
            f"{who}VM {what} within {plan.boot_timeout if boot else plan.timeout:.0f}s: "
            "hung, killed; console kept",
            f"read {console}; raise --timeout/--boot-timeout if the machine is just slow",
        )
    if not result.guest_finished:
        text = console.read_text(errors="replace")
        init = _INIT_FAILED.search(text)
        if init:
            return GuestInitFailed(
                f"{who}the guest kernel could not start its init, so no test ran "
                f"({init.group(0).strip()}); console kept",
                f"read {console}; check the guest's kernel command line (init=, root=): "
                "[vm] append in series.toml",
            )
        if any(s.kind in ("panic", "Oops", "BUG") for s in found):
            return None
        tail = "\n".join(text.strip().splitlines()[-15:])
        return InfraError(
            f"{who}the guest exited (status {result.exit_status}) before the tests finished; "
            f"last console lines:\n{tail}",
            f"read {console}",
        )
    return None


def combine(errors: list[HarnessError]) -> HarnessError | None:
    """Several guests' errors as one: an infrastructure error if any of them is one
    (exit 3), else bad usage (exit 2); every problem and fix kept, in order."""
    if len(errors) <= 1:
        return errors[0] if errors else None
    kind = InfraError if any(e.exit_code == ExitCode.INFRA for e in errors) else UsageError
    fixes = list(dict.fromkeys(e.fix for e in errors if e.fix))
    return kind("\n".join(e.problem for e in errors), "; ".join(fixes) or None)


@dataclass
class GuestsOutcome:
    """What several guests side by side amount to, for the run's report."""

    splats: list[splats.Splat] = field(default_factory=list)  # each naming its guest
    guests: list[report.GuestReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # the slowest guest's
    failure: HarnessError | None = None  # every guest's problem, one error


def merge_guests(
    plan: list[shards.Shard],
    results: list[vm.VmResult],
    vmp: VmPlan,
    results_dir: Path,
    keyword: str | None,
) -> GuestsOutcome:
    """Each guest's splats, report line and problem (a timeout, an early exit, a
    pytest error), each problem naming its guest; a pytest error every guest had (a
    bad -k) once."""
    out = GuestsOutcome()
    problems: list[HarnessError] = []
    pytest_errors: list[tuple[str, HarnessError]] = []
    for shard, res in zip(plan, results, strict=True):
        junit = results_dir / shard.name / "junit.xml"
        mine = report.parse_junit(junit) if junit.exists() else []
        console = res.console.read_text(errors="replace")
        found = [dataclasses.replace(s, guest=shard.name) for s in splats.scan(console)]
        out.splats += found
        if res.killed_after_done:
            warn(f"{shard.name} did not power off after the tests; killed it")
        err = guest_problem(res, found, vmp, who=f"{shard.name}: ")
        if err is not None:
            if not mine:
                names = ", ".join(u.name for u in shard.units)
                err = type(err)(f"{err.problem}\n  no results from: {names}", err.fix)
            problems.append(err)
        # a guest whose share -k deselected whole: an error only if every one's was
        exit_ = None if res.pytest_exit == NO_TESTS_COLLECTED else res.pytest_exit
        ptest = pytest_error(exit_, keyword, console, res.console)
        if ptest is not None:
            pytest_errors.append((shard.name, ptest))
        problem = str(err or ptest or "")
        if not res.guest_finished and not problem:
            kinds = ", ".join(sorted({s.kind for s in found}))
            problem = f"the kernel splatted ({kinds}) before the tests finished"
        boot = res.boot_seconds
        out.guests.append(
            report.GuestReport(
                name=shard.name,
                units=[u.name for u in shard.units],
                estimate=shard.cost,
                boot_seconds=None if boot is None else round(boot, 2),
                tests_seconds=None if boot is None else round(res.total_seconds - boot, 2),
                pytest_exit=res.pytest_exit,
                tests=len(mine),
                problem=problem,
            )
        )
    booted = [g for g in out.guests if g.boot_seconds is not None]
    if booted:  # the slowest guest's: what the run waited for
        out.timings["guest_boot"] = max(g.boot_seconds or 0.0 for g in booted)
        out.timings["guest_tests"] = max(g.tests_seconds or 0.0 for g in booted)
    if all(res.pytest_exit == NO_TESTS_COLLECTED for res in results):
        first = results[0]
        text = first.console.read_text(errors="replace")
        none = pytest_error(first.pytest_exit, keyword, text, first.console)
        if none is not None:
            pytest_errors = [("", none)]
    if len(pytest_errors) == len(plan) and len({str(e) for _, e in pytest_errors}) == 1:
        pytest_errors = [("", pytest_errors[0][1])]  # every guest's (a bad -k): once
    named = [type(e)(f"{g}: {e.problem}", e.fix) if g else e for g, e in pytest_errors]
    out.failure = combine([*problems, *named])
    return out
