"""netdevsim's debugfs ports/<n>/xdp_features knob (patch 5).

Reading gives the device's NETDEV_XDP_ACT_* mask as "0x%llx\\n"; writing a
number (kstrtoull, so any base) sets it with xdp_set_features_flag(),
which the netdev family then reports and announces with a
NETDEV_CMD_DEV_CHANGE_NTF to its "mgmt" group. The default stays
hw-offload only (nsim_create()). Refused writes are in
test_enforce_bad_input.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ffcommon import (
    ALL_FEATURES,
    BASIC,
    HW_OFFLOAD,
    NSIM_DEFAULT_FEATURES,
    REDIRECT,
    RX_SG,
    SINGLE_FEATURES,
    NetdevNotifications,
    Nsim,
    describe,
    feature_names,
)
from xdplib.netdev_genl import NetdevInfo
from xdplib.netns import Port, inside
from xdplib.traffic import ARRIVAL_TIMEOUT

InfoFn = Callable[[Port], NetdevInfo]
VALUES = [0, ALL_FEATURES, *SINGLE_FEATURES, BASIC | REDIRECT | RX_SG]


def test_default_is_hw_offload(fresh_nsim: Nsim, netdev_info: InfoFn) -> None:
    text = fresh_nsim.knob.read_text()
    assert text == f"{NSIM_DEFAULT_FEATURES:#x}\n", (
        f"{fresh_nsim.knob} of a new device should read '0x10' (hw-offload), got {text!r}"
    )
    info = netdev_info(fresh_nsim.port)
    assert info.xdp_features_raw == HW_OFFLOAD, (
        f"a new netdevsim device should advertise {describe(HW_OFFLOAD)}, "
        f"got {describe(info.xdp_features_raw)}"
    )


@pytest.mark.parametrize("value", VALUES, ids=lambda v: "+".join(feature_names(v)) or "none")
def test_write_is_read_back_and_reported_over_netlink(
    nsim: Nsim, netdev_info: InfoFn, value: int
) -> None:
    nsim.knob.write_text(f"{value:#x}\n")
    text = nsim.knob.read_text()
    assert text == f"{value:#x}\n", f"after writing {value:#x}, {nsim.knob} reads {text!r}"
    reported = netdev_info(nsim.port).xdp_features_raw
    assert reported == value, (
        f"after writing {describe(value)} to {nsim.knob} the netdev family reports "
        f"{describe(reported)}"
    )


@pytest.mark.parametrize("text", ["35\n", "0x23\n", "043\n"], ids=["decimal", "hex", "octal"])
def test_write_takes_any_base(nsim: Nsim, netdev_info: InfoFn, text: str) -> None:
    expected = BASIC | REDIRECT | RX_SG  # 35 == 0x23 == 043
    nsim.knob.write_text(text)
    assert nsim.features() == expected, (
        f"writing {text.strip()!r} should set {describe(expected)}, "
        f"{nsim.knob} reads {nsim.features():#x}"
    )
    reported = netdev_info(nsim.port).xdp_features_raw
    assert reported == expected, f"netdev family reports {describe(reported)}"


def test_write_is_announced_to_the_mgmt_group(nsim: Nsim) -> None:
    value = BASIC | REDIRECT
    with inside(nsim.port.ns), NetdevNotifications() as notes:
        nsim.knob.write_text(f"{value:#x}\n")
        changes = notes.xdp_feature_changes(nsim.port.ifindex, ARRIVAL_TIMEOUT)
    assert changes == [value], (
        f"writing {describe(value)} to {nsim.knob} should send one NETDEV_CMD_DEV_CHANGE_NTF "
        f"with that xdp-features for ifindex {nsim.port.ifindex}, got "
        f"{[hex(c) for c in changes]}"
    )


def test_rewriting_the_same_value_is_not_announced(nsim: Nsim) -> None:
    """xdp_set_features_flag() only notifies when the mask changes."""
    value = BASIC | REDIRECT
    nsim.knob.write_text(f"{value:#x}\n")
    with inside(nsim.port.ns), NetdevNotifications() as notes:
        nsim.knob.write_text(f"{value:#x}\n")
        changes = notes.xdp_feature_changes(nsim.port.ifindex, 1.0)
    assert changes == [], (
        f"writing the value {nsim.knob} already holds should not notify, got "
        f"{[hex(c) for c in changes]}"
    )
