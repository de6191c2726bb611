"""What a guest's run amounts to: the plan it ran under (kernel, accelerator,
timeouts), and what went wrong with it as a whole (a timeout, an init that could not
start, an exit before its tests finished), one guest's or several guests' as one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness import splats, vm
from harness.errors import ExitCode, GuestInitFailed, HarnessError, InfraError, UsageError


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
