"""The in-guest runner's command line: what each guest is handed, as it sees it."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import make_image

from harness.guest_command import GuestRunner
from harness.guest_image import GuestImage, host_view, image_view


def _runner(stack: Path) -> GuestRunner:
    return GuestRunner(
        stack / "bpf",
        stack / "src",
        {"bpftool": stack / "build/tools/bpftool/bpftool"},
        ("-x",),
        "redirect",
    )


def test_on_the_host_root_every_path_is_the_hosts(tmp_path: Path) -> None:
    res = tmp_path / "res"
    cmd = _runner(tmp_path / "stack").command(
        host_view(tmp_path / "repo", res), res, ["baseline"], ["net:xdp_stats.py"], res / "u.json"
    )
    stack = tmp_path / "stack"
    assert cmd == [
        sys.executable,
        "-m",
        "harness.guest",
        "--results",
        str(res),
        "--bpf-objdir",
        str(stack / "bpf"),
        "--kernel-tree",
        str(stack / "src"),
        "--suite",
        "baseline",
        "--units",
        str(res / "u.json"),
        "--tool",
        f"bpftool={stack}/build/tools/bpftool/bpftool",
        "--kselftest",
        "net:xdp_stats.py",
        "--",
        "-x",
        "-k",
        "redirect",
    ]


def test_in_an_image_every_path_is_where_the_image_mounts_it(tmp_path: Path) -> None:
    image = GuestImage.load(make_image(tmp_path / "img"))
    stack, res = tmp_path / "stack", tmp_path / "res/guest-2"
    view = image_view(image, tmp_path / "repo", res, stack)
    cmd = GuestRunner(stack / "bpf", stack / "src", {}).command(view, res, units=res / "u.json")
    assert cmd == [
        "/opt/xdp-harness/venv/bin/python",
        "-m",
        "harness.guest",
        "--results",
        "/opt/xdp-harness/results",
        "--bpf-objdir",
        "/opt/xdp-harness/stack/bpf",
        "--kernel-tree",
        "/opt/xdp-harness/stack/src",
        "--units",
        "/opt/xdp-harness/results/u.json",
    ]
