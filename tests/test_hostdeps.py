"""Host dependency checks with a fake `which` (and fake file requirements)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness import hostdeps
from harness.errors import ExitCode, MissingDependency
from harness.hostdeps import REQUIREMENTS, Requirement, check, find_clang, missing_for


def which_only(*present: str) -> Callable[[str], str | None]:
    def which(name: str) -> str | None:
        return f"/usr/bin/{name}" if name in present else None

    return which


@pytest.fixture
def no_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point every absolute-path requirement at a file that does not exist."""
    reqs = tuple(
        Requirement(str(tmp_path / "absent" / r.what.lstrip("/")), r.package, r.stages)
        if r.what.startswith("/")
        else r
        for r in REQUIREMENTS
    )
    monkeypatch.setattr(hostdeps, "REQUIREMENTS", reqs)


def test_requirement_present_command() -> None:
    req = Requirement("vng", "pip:virtme-ng", frozenset({"boot"}))
    assert req.present(which_only("vng"))
    assert not req.present(which_only())


def test_requirement_present_file(tmp_path: Path) -> None:
    header = tmp_path / "libelf.h"
    req = Requirement(str(header), "libelf-dev", frozenset({"build"}))
    assert not req.present(which_only())
    header.write_text("")
    assert req.present(which_only())  # files are looked for on disk, not on PATH


def test_all_missing_reported_at_once() -> None:
    with pytest.raises(MissingDependency) as info:
        check(["source", "boot"], which=which_only("tar"))
    err = info.value
    assert err.exit_code == ExitCode.INFRA
    assert err.missing == {
        "git": "git",
        "xz": "xz-utils",
        "qemu-system-x86_64": "qemu-system-x86",
        "vng": "pip:virtme-ng",
        "udevadm": "udev",
    }
    for tool in ("git", "xz", "qemu-system-x86_64", "vng", "udevadm"):
        assert tool in err.problem
    assert err.fix is not None
    assert "apt-get install -y" in err.fix
    assert "xz-utils" in err.fix


def test_only_requested_stages_checked() -> None:
    assert missing_for(["source"], which_only("git", "tar", "xz")) == {}
    check(["source"], which=which_only("git", "tar", "xz"))  # does not raise


def test_build_stage_files(no_files: None) -> None:
    tools = ("make", "gcc", "flex", "bison", "bc", "pahole", "ccache")
    missing = missing_for(["build"], which_only(*tools))
    assert set(missing.values()) == {"libelf-dev", "libssl-dev"}
    assert all(what.endswith(("libelf.h", "ssl.h")) for what in missing)


def test_test_stage_needs_clang(no_files: None) -> None:
    missing = missing_for(["test"], which_only("bpftool", "ip"))
    assert missing["clang-19"] == "clang-19"
    assert set(missing.values()) == {"clang-19", "libbpf-dev"}


def test_plain_clang_is_accepted_for_clang_19(no_files: None) -> None:
    missing = missing_for(["test"], which_only("bpftool", "ip", "clang"))
    assert "clang-19" not in missing


def test_find_clang_prefers_clang_19() -> None:
    assert find_clang(which_only("clang", "clang-19")) == "/usr/bin/clang-19"
    assert find_clang(which_only("clang")) == "/usr/bin/clang"
    assert find_clang(which_only()) is None


def test_every_requirement_has_a_package_and_a_stage() -> None:
    stages = {"source", "build", "boot", "test", "checkpatch"}
    for r in REQUIREMENTS:
        assert r.package
        assert r.stages
        assert r.stages <= stages
