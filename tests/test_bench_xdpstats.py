"""`harness bench`'s XDP statistics switch: the v1 sysctl or the v2 netlink op, read
back through the kernel tree's ynl library (a fake one here)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness import bench_xdpstats
from harness.bench_xdpstats import StatsSwitchError, drop_packets, find_switch

# A ynl library with the 6.12 API (YnlFamily(spec, schema).do(op, vals), NlError.error):
# a device counts while enabled; xdp-stats-get on one that does not: ENODATA (v2).
FAKE_YNL = """
import errno, json, os

CALLS = os.environ["FAKE_YNL_CALLS"]


class NlError(Exception):
    def __init__(self, error):
        self.error = error


class YnlFamily:
    def __init__(self, def_path, schema=None):
        assert schema == "", "the schema is not validated (no jsonschema in the guest)"
        self.ops = dict.fromkeys(open(def_path).read().split())
        self.enabled = {}

    def do(self, method, vals):
        with open(CALLS, "a") as f:
            f.write(json.dumps([method, vals]) + "\\n")
        if method == "xdp-stats-set":
            self.enabled[vals["ifindex"]] = vals["enabled"]
            return None
        if not self.enabled.get(vals["ifindex"]):
            raise NlError(errno.ENODATA)
        return {"ifindex": vals["ifindex"], "drop-packets": 42, "pass-packets": 1}
"""


def _tree(tmp_path: Path, ops: str) -> Path:
    tree = tmp_path / "src"
    lib = tree / "tools/net/ynl/lib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text(textwrap.dedent(FAKE_YNL))
    spec = tree / "Documentation/netlink/specs/netdev.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(ops)  # the fake's ops: the words of the spec
    return tree


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "calls"
    monkeypatch.setenv("FAKE_YNL_CALLS", str(path))
    monkeypatch.setattr(bench_xdpstats, "XDP_STATS_SYSCTL", tmp_path / "no-sysctl")
    return path


def _calls(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_drop_packets_of_a_reply() -> None:
    assert drop_packets({"ifindex": 3, "drop-packets": 7, "pass-packets": 0}) == 7
    assert drop_packets({"ifindex": 3}) is None  # v1: a device without counters
    with pytest.raises(StatsSwitchError, match="not a number"):
        drop_packets({"ifindex": 3, "drop-packets": b"\x01"})


def test_v2_switches_per_device_over_netlink(tmp_path: Path, calls: Path) -> None:
    tree = _tree(tmp_path, "xdp-stats-get xdp-stats-set")
    switch = find_switch(tree, "lo")
    assert switch is not None and switch.kind == "netlink"
    assert switch.description == "netdev genetlink xdp-stats-set on lo (per device)"
    assert switch.drops() is None  # not counting: ENODATA
    switch.set(True)
    assert switch.drops() == 42
    switch.set(False)
    assert switch.drops() is None
    ifindex = switch.ifindex()
    assert _calls(calls) == [
        ["xdp-stats-get", {"ifindex": ifindex}],
        ["xdp-stats-set", {"ifindex": ifindex, "enabled": 1}],
        ["xdp-stats-get", {"ifindex": ifindex}],
        ["xdp-stats-set", {"ifindex": ifindex, "enabled": 0}],
        ["xdp-stats-get", {"ifindex": ifindex}],
    ]


def test_v1_sysctl_wins_and_counters_still_read_over_netlink(
    tmp_path: Path, calls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysctl = tmp_path / "xdp_stats"
    sysctl.write_text("0\n")
    monkeypatch.setattr(bench_xdpstats, "XDP_STATS_SYSCTL", sysctl)
    switch = find_switch(_tree(tmp_path, "xdp-stats-get"), "lo")
    assert switch is not None and switch.kind == "sysctl"
    assert switch.description.startswith(f"sysctl {sysctl} (net.core.xdp_stats")
    switch.set(True)
    assert sysctl.read_text() == "1\n"
    switch.set(False)
    assert sysctl.read_text() == "0\n"
    assert not calls.exists()  # the sysctl needs no netlink
    assert switch.drops() is None  # the fake device never got enabled over netlink


def test_a_sysctl_that_does_not_stick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Stuck:
        def write_text(self, text: str) -> None:
            pass

        def read_text(self) -> str:
            return "0\n"

        def exists(self) -> bool:
            return True

    monkeypatch.setattr(bench_xdpstats, "XDP_STATS_SYSCTL", Stuck())
    switch = find_switch(None, "lo")
    assert switch is not None and switch.ynl is None
    with pytest.raises(StatsSwitchError, match="reads 0 after writing 1"):
        switch.set(True)
    assert switch.drops() is None


def test_base_kernel_has_no_switch(tmp_path: Path, calls: Path) -> None:
    assert find_switch(_tree(tmp_path, "dev-get page-pool-get"), "lo") is None
    assert find_switch(None, "lo") is None
    assert find_switch(tmp_path / "not-a-tree", "lo") is None


def test_netlink_errors_name_the_op(tmp_path: Path, calls: Path) -> None:
    switch = find_switch(_tree(tmp_path, "xdp-stats-get xdp-stats-set"), "lo")
    assert switch is not None
    switch.ifname = "nosuchdev0"
    with pytest.raises(StatsSwitchError, match="xdp-stats-set enabled=1 on nosuchdev0"):
        switch.set(True)


def test_a_broken_ynl_library(tmp_path: Path, calls: Path) -> None:
    tree = _tree(tmp_path, "xdp-stats-set")
    (tree / "tools/net/ynl/lib/__init__.py").write_text("import yaml_that_is_missing\n")
    with pytest.raises(StatsSwitchError, match=r"ynl library of .* failed to load"):
        find_switch(tree, "lo")
