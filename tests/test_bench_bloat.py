"""`harness bench` sizes: bloat-o-meter's output parsed, summed per driver, rendered."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness import bench_bloat
from harness.bench_bloat import Bloat, Target, compare, parse, render
from harness.runner import Runner

# scripts/bloat-o-meter vmlinux vmlinux of 6.12 (abridged in the middle)
VMLINUX = """\
add/remove: 134/90 grow/shrink: 31/2 up/down: 8906/-1154 (7752)
Function                                     old     new   delta
netdev_nl_xdp_stats_fill                       -     485    +485
bpf_trampoline_put                           223      11    -212
check_cfg                                    577       -    -577
Total: Before=9012274, After=9020026, chg +0.09%
"""


def test_parse() -> None:
    assert parse(VMLINUX) == Bloat(134, 90, 31, 2, 9012274, 9020026)
    assert parse(VMLINUX).delta == 7752


def test_parse_unchanged_object() -> None:
    text = (
        "add/remove: 0/0 grow/shrink: 0/0 up/down: 0/0 (0)\n"
        "Function                                     old     new   delta\n"
        "Total: Before=15060, After=15060, chg +0.00%\n"
    )
    assert parse(text) == Bloat(0, 0, 0, 0, 15060, 15060)


def test_parse_rejects_other_output() -> None:
    with pytest.raises(ValueError, match="not bloat-o-meter output"):
        parse("nm: 'vmlinux': No such file\n")
    inconsistent = VMLINUX.replace("(7752)", "(7000)")
    with pytest.raises(ValueError, match="not After-Before"):
        parse(inconsistent)


def test_sum() -> None:
    total = Bloat(1, 0, 2, 0, 100, 150) + Bloat(0, 1, 0, 1, 50, 40)
    assert total == Bloat(1, 1, 2, 1, 150, 190)
    assert total.delta == 40


def _fake_tree(tmp_path: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    """A bloat-o-meter that reports, per object path (its last two components), the
    sizes given."""
    tree = tmp_path / "src"
    script = tree / "scripts" / "bloat-o-meter"
    script.parent.mkdir(parents=True)
    script.write_text(
        "import sys\n"
        f"sizes = {sizes!r}\n"
        "key = '/'.join(sys.argv[2].split('/')[-2:])\n"
        "old, new = sizes[key]\n"
        "print(f'add/remove: 0/0 grow/shrink: 1/0 up/down: {new - old}/0 ({new - old})')\n"
        "print(f'Total: Before={old}, After={new}, chg +0.00%')\n"
    )
    return tree


def _objects(build: Path, names: list[str]) -> None:
    for name in names:
        (build / name).parent.mkdir(parents=True, exist_ok=True)
        (build / name).write_bytes(b"\x7fELF")


def test_compare_per_target(tmp_path: Path) -> None:
    tree = _fake_tree(
        tmp_path,
        {
            "patched/vmlinux": (1000, 1100),
            "net/veth.o": (50, 60),
            "netdevsim/netdev.o": (10, 14),
            "netdevsim/bpf.o": (20, 20),
        },
    )
    base, patched = tmp_path / "base", tmp_path / "patched"
    common = ["vmlinux", "drivers/net/veth.o", "drivers/net/netdevsim/netdev.o"]
    _objects(base, [*common, "drivers/net/netdevsim/bpf.o"])
    _objects(patched, [*common, "drivers/net/netdevsim/bpf.o", "drivers/net/netdevsim/new.o"])
    out = tmp_path / "bloat"
    runner = Runner()
    targets = compare(tree, base, patched, out, runner)
    assert [t.name for t in targets] == ["vmlinux", "veth", "netdevsim"]  # what was built
    vmlinux, veth, nsim = targets
    assert vmlinux.bloat.delta == 100 and veth.bloat.delta == 10
    assert nsim.objects == ["drivers/net/netdevsim/bpf.o", "drivers/net/netdevsim/netdev.o"]
    assert nsim.bloat == Bloat(0, 0, 2, 0, 30, 34)
    assert nsim.only_in == {"patched": ["drivers/net/netdevsim/new.o"]}
    report = (out / "netdevsim.txt").read_text()
    assert "### drivers/net/netdevsim/bpf.o\n" in report and "Before=10, After=14" in report
    assert runner.log.lines[0].startswith(f"{sys.executable} {tree}/scripts/bloat-o-meter ")

    table = render(targets, "## Size")
    assert table.splitlines()[:3] == [
        "## Size",
        "",
        "| object | files | symbols +/- | grown/shrunk | before bytes | after bytes | delta |",
    ]
    assert "| vmlinux | 1 | +0/-0 | 1/0 | 1000 | 1100 | +100 |" in table
    assert (
        "| netdevsim (only in patched: drivers/net/netdevsim/new.o) | 2 | +0/-0 | 2/0 | 30 | 34 "
        "| +4 |" in table
    )


def test_compare_keeps_a_broken_report(tmp_path: Path) -> None:
    tree = tmp_path / "src"
    (tree / "scripts").mkdir(parents=True)
    (tree / "scripts" / "bloat-o-meter").write_text("import sys\nsys.exit('nm: not found')\n")
    for side in ("base", "patched"):
        _objects(tmp_path / side, ["drivers/net/virtio_net.o"])
    (target,) = compare(tree, tmp_path / "base", tmp_path / "patched", tmp_path / "o", Runner())
    assert target.error is not None
    assert target.error.startswith("drivers/net/virtio_net.o: bloat-o-meter exited 1")
    assert "nm: not found" in (tmp_path / "o" / "virtio_net.txt").read_text()
    assert "| virtio_net (drivers/net/virtio_net.o: bloat-o-meter exited 1" in render([target], "t")


def test_targets_cover_vmlinux_and_the_xdp_drivers() -> None:
    assert list(bench_bloat.TARGETS) == [
        "vmlinux",
        "veth",
        "virtio_net",
        "tun",
        "netdevsim",
        "bonding",
    ]
    assert Target("x").bloat == Bloat()
