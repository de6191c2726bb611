"""Live proofs of the failure paths: a real guest that panics, one that WARNs, one
that hangs, one that never reaches the test runner. Each is a run of its own, meant
to fail; a proof holds when the run ends as the harness promises (its exit code, the
splat or the problem named, the console kept). `harness proofs` exits 0 when every
proof holds. The panic and the WARNING come from LKDTM, which kernel-config/debug.config
enables: the proofs boot the --debug-config kernel of the stack."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ExitCode
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.report import RunReport
from harness.ui import progress

SUITE = "proofs"


@dataclass(frozen=True)
class Proof:
    name: str
    what: str
    keyword: str | None  # the guest test (-k), None: no test gets to run
    expect_code: ExitCode
    expect_text: str  # in the verdict or the error
    console_text: str  # in the kept console
    append: tuple[str, ...] = ()
    timeout: float | None = None  # the run's limit, when the proof is about it


PROOFS = (
    Proof(
        "warning",
        "a kernel WARNING during a test (LKDTM WARNING)",
        "test_warning",
        ExitCode.FAILED,
        "kernel splat(s): WARNING",
        "WARNING: CPU:",
    ),
    Proof(
        "panic",
        "a kernel panic during a test (LKDTM PANIC)",
        "test_panic",
        ExitCode.FAILED,
        "panic",
        "Kernel panic - not syncing",
    ),
    Proof(
        "hang",
        "a test that never ends, past the run's timeout",
        "test_hang",
        ExitCode.INFRA,
        "did not finish within",
        "VM killed: run timeout",
        timeout=420.0,
    ),
    # vng puts its own init= after the words a run appends (the kernel takes the last
    # one), so a bad init= cannot be the proof, and a bad root= is not either (the
    # kernel falls back to /dev/root, vng's 9p tag); a root file system type that does
    # not exist, after vng's rootfstype=9p, is: nothing of the guest starts
    Proof(
        "bad-cmdline",
        "a guest that never reaches the runner (rootfstype=nonexistentfs)",
        None,
        ExitCode.INFRA,
        "could not start its init",
        "VFS: Unable to mount root fs",
        append=("rootfstype=nonexistentfs",),
    ),
)


@dataclass
class Outcome:
    proof: Proof
    code: int
    message: str  # the run's verdict and error
    console: Path
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


def judge(proof: Proof, report: RunReport, console: Path, seconds: float) -> Outcome:
    """Whether a run ended as ``proof`` says it must."""
    message = "; ".join(x for x in (report.verdict, report.error) if x)
    out = Outcome(proof, report.exit_code, message, console, seconds)
    if report.exit_code != int(proof.expect_code):
        out.problems.append(f"exit {report.exit_code}, expected {int(proof.expect_code)}")
    if proof.expect_text not in message:
        out.problems.append(f"{proof.expect_text!r} not said (said: {message or 'nothing'})")
    text = console.read_text(errors="replace") if console.is_file() else ""
    if not text:
        out.problems.append(f"no console kept at {console}")
    elif proof.console_text not in text:
        out.problems.append(f"{proof.console_text!r} not in the console {console}")
    return out


def options_for(proof: Proof, base: Options) -> Options:
    """The run of one proof: the stack's --debug-config kernel, the proofs suite only."""
    return Options(
        command="run",
        series=list(base.series),
        kernel_tree=base.kernel_tree,
        accel=base.accel,
        timeout=proof.timeout or base.timeout,
        boot_timeout=base.boot_timeout,
        results_root=base.results_root,
        rebuild=False,
        keyword=proof.keyword or "no_test_gets_to_run",
        debug_config=True,
        verbose=base.verbose,
        jobs=1,
        suites=[SUITE],
        append=list(proof.append),
    )


RunOne = Callable[[Options], tuple[RunReport, Path]]


def run_pipeline(opts: Options, repo: Path, cache: CacheLayout) -> tuple[RunReport, Path]:
    p = Pipeline(opts, repo, cache)
    p.execute()
    return p.report, p.results / "console.log"


def prove(base: Options, names: Sequence[str], run_one: RunOne) -> tuple[ExitCode, list[Outcome]]:
    outcomes: list[Outcome] = []
    for proof in PROOFS:
        if names and proof.name not in names:
            continue
        progress(f"==> proof {proof.name}: {proof.what}")
        start = time.monotonic()
        report, console = run_one(options_for(proof, base))
        out = judge(proof, report, console, time.monotonic() - start)
        outcomes.append(out)
        state = "holds" if out.holds else "DOES NOT HOLD: " + "; ".join(out.problems)
        progress(f"    {proof.name}: exit {out.code} in {out.seconds:.0f}s, {state}")
    code = ExitCode.OK if all(o.holds for o in outcomes) else ExitCode.FAILED
    return code, outcomes


def table(outcomes: list[Outcome]) -> str:
    rows = ["| proof | expected | got | holds | said | console |", "|---|---|---|---|---|---|"]
    for o in outcomes:
        said = o.message.replace("|", "/").replace("\n", " ")[:160]
        rows.append(
            f"| {o.proof.name} | exit {int(o.proof.expect_code)}, {o.proof.expect_text!r} "
            f"| exit {o.code} ({o.seconds:.0f} s) | {'yes' if o.holds else 'NO'} | {said} "
            f"| {o.console} |"
        )
    return "\n".join(rows)
