"""Errors with fixed exit codes, each naming the problem and the fix."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes CI can rely on."""

    OK = 0
    FAILED = 1  # a test failed or the kernel splatted
    USAGE = 2  # bad usage or input (unknown series, patch does not apply, ...)
    INFRA = 3  # infrastructure (missing tool, build failed, VM did not boot, timeout)


class HarnessError(Exception):
    """An error the user can act on: what went wrong, and how to fix it."""

    exit_code: ExitCode = ExitCode.INFRA

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.problem}\n  fix: {self.fix}"
        return self.problem


class UsageError(HarnessError):
    """Bad usage or bad input: the user's request or data is wrong."""

    exit_code = ExitCode.USAGE


class InfraError(HarnessError):
    """The machinery failed: a tool, the build, the VM."""

    exit_code = ExitCode.INFRA


class GuestInitFailed(InfraError):
    """The guest kernel could not start its init (the command line, the root): its
    panic is the consequence, not a kernel under test failing, so the run stays exit 3."""


class BrokenBuild(UsageError):
    """The kernel does not build because of the code under test (compiler or linker
    errors): the series' fault, not the machine's. The same in `run`, `build` and
    `check-patches`."""


def unexpected(exc: Exception, traceback_file: str | None = None) -> InfraError:
    """An exception that is not a HarnessError (a damaged cache file, an OSError, a bug):
    reported as an infrastructure error (exit 3), with where its traceback went."""
    where = f"the traceback is in {traceback_file}" if traceback_file else "see the traceback"
    return InfraError(
        f"unexpected {type(exc).__name__}: {exc}",
        f"{where}; a damaged file in the cache can be removed (the run rebuilds it), "
        "anything else is a harness bug",
    )


class MissingDependency(InfraError):
    """A host tool or package is not installed."""

    def __init__(self, missing: dict[str, str]) -> None:
        names = ", ".join(f"{tool} (package {pkg})" for tool, pkg in sorted(missing.items()))
        apt = sorted({p for p in missing.values() if not p.startswith("pip:")})
        pip = sorted({p.removeprefix("pip:") for p in missing.values() if p.startswith("pip:")})
        cmds = [f"sudo apt-get install -y {' '.join(apt)}"] if apt else []
        cmds += [f"pip install {' '.join(pip)}"] if pip else []
        super().__init__(
            f"missing host dependencies: {names}",
            "; ".join(cmds) + "   (or run ci/setup-host.sh)",
        )
        self.missing = missing
