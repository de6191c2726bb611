"""Exit codes and the problem/fix shape of every harness error."""

from __future__ import annotations

from harness.errors import (
    ExitCode,
    HarnessError,
    InfraError,
    MissingDependency,
    UsageError,
)


def test_exit_codes() -> None:
    assert [int(c) for c in (ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.INFRA)] == [
        0,
        1,
        2,
        3,
    ]
    assert UsageError("x").exit_code == 2
    assert InfraError("x").exit_code == 3
    assert MissingDependency({"vng": "pip:virtme-ng"}).exit_code == 3
    assert HarnessError("x").exit_code == 3


def test_hierarchy() -> None:
    assert isinstance(MissingDependency({"git": "git"}), InfraError)
    assert isinstance(UsageError("x"), HarnessError)
    assert isinstance(InfraError("x"), HarnessError)


def test_str_has_problem_then_fix() -> None:
    err = UsageError("unknown series 'x'", "see `harness list`")
    assert str(err) == "unknown series 'x'\n  fix: see `harness list`"
    assert err.problem == "unknown series 'x'"
    assert err.fix == "see `harness list`"
    assert str(InfraError("VM did not boot")) == "VM did not boot"


def test_missing_dependency_names_each_tool_and_package() -> None:
    err = MissingDependency({"pahole": "dwarves", "flex": "flex", "bc": "bc"})
    assert err.missing == {"pahole": "dwarves", "flex": "flex", "bc": "bc"}
    assert err.problem == (
        "missing host dependencies: bc (package bc), flex (package flex), pahole (package dwarves)"
    )
    assert err.fix == "sudo apt-get install -y bc dwarves flex   (or run ci/setup-host.sh)"


def test_missing_dependency_package_listed_once() -> None:
    err = MissingDependency({"clang-19": "clang-19", "clang": "clang-19"})
    assert err.fix is not None
    assert err.fix.startswith("sudo apt-get install -y clang-19   ")


def test_pip_package_is_not_passed_to_apt_get() -> None:
    # vng comes from pip: `apt-get install pip:virtme-ng` cannot work.
    err = MissingDependency({"vng": "pip:virtme-ng", "qemu-system-x86_64": "qemu-system-x86"})
    assert "vng (package pip:virtme-ng)" in err.problem
    assert err.fix is not None
    assert "sudo apt-get install -y qemu-system-x86" in err.fix
    apt_part = err.fix.split("apt-get install", 1)[1].split("(", 1)[0]
    assert "pip:" not in apt_part
    assert "pip install virtme-ng" in err.fix
