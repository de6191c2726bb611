"""--image: the vm-images root filesystem, checked before anything runs, and the host
paths a guest is handed, translated to where the image mounts them."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_image

from harness import guest_image
from harness.errors import InfraError, UsageError
from harness.guest_image import (
    GUEST_REPO,
    GUEST_RESULTS,
    GUEST_STACK,
    VENV_PYTHON,
    GuestImage,
    default_image,
    host_view,
    image_view,
)


def test_a_finished_image_loads_with_its_id(tmp_path: Path) -> None:
    image = GuestImage.load(make_image(tmp_path / "img"))
    assert image.image_id == "bookworm-0123456789ab"
    assert image.root == (tmp_path / "img").resolve()


def test_no_such_directory_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist") as err:
        GuestImage.load(tmp_path / "nope")
    assert "build-rootfs.sh" in err.value.fix


def test_a_directory_without_manifest_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    with pytest.raises(UsageError, match=r"not a guest image: no readable etc/xdp-harness-image"):
        GuestImage.load(tmp_path / "img")


def test_an_image_without_the_venv_is_refused(tmp_path: Path) -> None:
    root = make_image(tmp_path / "img")
    (root / VENV_PYTHON.lstrip("/")).unlink()
    with pytest.raises(UsageError, match="has no /opt/xdp-harness/venv/bin/python"):
        GuestImage.load(root)


def test_an_image_of_an_older_script_names_the_missing_mount_point(tmp_path: Path) -> None:
    root = make_image(tmp_path / "img")
    (root / GUEST_STACK.lstrip("/")).rmdir()
    with pytest.raises(UsageError, match=f"lacks the mount point.*{GUEST_STACK}") as err:
        GuestImage.load(root)
    assert "rebuild it" in err.value.fix


def test_image_view_translates_the_three_mounts(tmp_path: Path) -> None:
    image = GuestImage.load(make_image(tmp_path / "img"))
    repo, res, stack = tmp_path / "repo", tmp_path / "results/r1", tmp_path / "cache/stacks/ff"
    view = image_view(image, repo, res, stack)
    assert view.python == VENV_PYTHON
    assert view.path(res / "units.json") == f"{GUEST_RESULTS}/units.json"
    assert view.path(stack / "build/tools/bpftool/bpftool") == (
        f"{GUEST_STACK}/build/tools/bpftool/bpftool"
    )
    assert view.path(repo) == GUEST_REPO
    assert view.cwd == image.root / GUEST_REPO.lstrip("/")
    assert {(str(m.host), m.guest, m.writable) for m in view.mounts} == {
        (str(repo), GUEST_REPO, False),
        (str(stack), GUEST_STACK, False),
        (str(res), GUEST_RESULTS, True),
    }


def test_the_innermost_mount_wins(tmp_path: Path) -> None:
    """A results directory inside the checkout (the default results/) is the guest's
    results mount, not a path in the read-only repo mount."""
    image = GuestImage.load(make_image(tmp_path / "img"))
    repo = tmp_path / "repo"
    view = image_view(image, repo, repo / "results/r1", tmp_path / "stack")
    assert view.path(repo / "results/r1/junit.xml") == f"{GUEST_RESULTS}/junit.xml"


def test_a_path_outside_every_mount_is_a_harness_bug(tmp_path: Path) -> None:
    image = GuestImage.load(make_image(tmp_path / "img"))
    view = image_view(image, tmp_path / "repo", None, tmp_path / "stack")
    with pytest.raises(InfraError, match="not visible in guest image bookworm-0123456789ab"):
        view.path(Path("/usr/bin/python3"))


def test_host_view_is_the_identity(tmp_path: Path) -> None:
    view = host_view(tmp_path / "repo", tmp_path / "res")
    assert view.path(Path("/anything/at/all")) == "/anything/at/all"
    assert view.image is None
    assert [(m.host, m.guest, m.writable) for m in view.mounts] == [
        (tmp_path / "res", str(tmp_path / "res"), True)
    ]


def test_a_tool_needing_a_library_the_image_lacks_is_refused(tmp_path: Path) -> None:
    """A real ELF (binutils' readelf reads it, as the harness does): the host's /bin/ls
    needs libc.so.6 and more."""
    needed = guest_image.elf_needs(Path("/bin/ls")).libraries
    assert "libc.so.6" in needed
    image = GuestImage.load(make_image(tmp_path / "img", libs=("libc.so.6",)))
    lacking = sorted(set(needed) - {"libc.so.6"})
    assert lacking, "the host's ls needs only libc: pick another binary for this test"
    with pytest.raises(UsageError, match=f"ls needs {lacking[0]}") as err:
        guest_image.check_libraries(image, {"ls": Path("/bin/ls")})
    assert "PACKAGES in vm-images/build-rootfs.sh" in err.value.fix
    full = GuestImage.load(make_image(tmp_path / "full", libs=tuple(needed)))
    guest_image.check_libraries(full, {"ls": Path("/bin/ls")})  # nothing missing


def test_a_tool_built_against_a_newer_glibc_is_refused(tmp_path: Path) -> None:
    """The host's ls needs some GLIBC_2.x symbol version: an image whose glibc is
    older than that cannot run it; one as new can."""
    newest = guest_image.elf_needs(Path("/bin/ls")).glibc
    assert newest is not None and newest >= (2, 3)
    libs = tuple(guest_image.elf_needs(Path("/bin/ls")).libraries)
    old = GuestImage.load(make_image(tmp_path / "old", libs=libs, libc6="2.2-1"))
    assert old.glibc == (2, 2)
    with pytest.raises(UsageError, match=r"ls needs GLIBC_2\.\d+ \(the image's glibc is 2\.2\)"):
        guest_image.check_libraries(old, {"ls": Path("/bin/ls")})
    have = ".".join(map(str, newest))
    same = GuestImage.load(make_image(tmp_path / "same", libs=libs, libc6=f"{have}-9+deb12u14"))
    guest_image.check_libraries(same, {"ls": Path("/bin/ls")})


def test_a_script_needs_no_library(tmp_path: Path) -> None:
    tool = tmp_path / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    assert guest_image.elf_needs(tool) == guest_image.ElfNeeds([], None)


def test_default_image_env_before_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg/xdp-harness/config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('image = "/from/config"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert default_image(env) == (Path("/from/config"), str(cfg))
    env["XDP_HARNESS_IMAGE"] = "/from/env"
    assert default_image(env) == (Path("/from/env"), "$XDP_HARNESS_IMAGE")
    assert default_image({"XDG_CONFIG_HOME": str(tmp_path / "none")}) == (None, "")


def test_a_bad_config_file_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "xdp-harness/config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("image = 3\n")
    with pytest.raises(UsageError, match="image must be a path"):
        default_image({"XDG_CONFIG_HOME": str(tmp_path)})
    cfg.write_text("image = [\n")
    with pytest.raises(UsageError, match=str(cfg)):
        default_image({"XDG_CONFIG_HOME": str(tmp_path)})


def test_the_command_line_image_before_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.cli import guest_image_arg, make_parser

    parser = make_parser()
    monkeypatch.setenv("XDP_HARNESS_IMAGE", "/from/env")
    assert guest_image_arg(parser.parse_args(["run", "--image", "/cli"])) == Path("/cli")
    assert guest_image_arg(parser.parse_args(["run"])) == Path("/from/env")
    assert guest_image_arg(parser.parse_args(["test", "--no-image"])) is None
    monkeypatch.delenv("XDP_HARNESS_IMAGE")
    assert guest_image_arg(parser.parse_args(["shell"])) is None
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--image", "/cli", "--no-image"])
    for command in (["build"], ["check-patches"]):  # no guest: no image option
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--image", "/cli"])
