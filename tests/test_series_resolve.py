"""Stacking series: dependency order, errors, the stack's key, suites and fragments."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_series, patch_text

from harness.errors import ExitCode, UsageError
from harness.series import (
    Series,
    config_fragments,
    load_all,
    resolve,
    selftest_suites,
    stack_key,
)

ONE_PATCH = {"0001-x.patch": patch_text("[PATCH] x")}


def _names(stack: list[Series]) -> list[str]:
    return [s.name for s in stack]


@pytest.fixture
def diamond(harness_repo: Path) -> dict[str, Series]:
    """base <- left, right <- top (top depends on both)."""
    make_series(harness_repo, "base", selftests=("baseline",))
    make_series(harness_repo, "left", depends_on=("base",), patches=ONE_PATCH)
    make_series(harness_repo, "right", depends_on=("base",), patches=ONE_PATCH)
    make_series(harness_repo, "top", depends_on=("left", "right"), patches=ONE_PATCH)
    return load_all(harness_repo)


def test_dependencies_first_each_once(diamond: dict[str, Series]) -> None:
    assert _names(resolve(["top"], diamond)) == ["base", "left", "right", "top"]


def test_requested_twice_or_already_pulled_in_appears_once(diamond: dict[str, Series]) -> None:
    assert _names(resolve(["left", "top", "left", "base"], diamond)) == [
        "base",
        "left",
        "right",
        "top",
    ]


def test_requested_order_kept_for_independent_series(diamond: dict[str, Series]) -> None:
    assert _names(resolve(["right", "left"], diamond)) == ["base", "right", "left"]


def test_unknown_series_lists_known_ones(diamond: dict[str, Series]) -> None:
    with pytest.raises(UsageError) as info:
        resolve(["nope"], diamond)
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert err.problem == "unknown series 'nope'"
    assert err.fix == "known series: base, left, right, top; see `harness list`"


def test_unknown_series_with_nothing_known() -> None:
    with pytest.raises(UsageError) as info:
        resolve(["x"], {})
    assert info.value.fix is not None
    assert "known series: (none)" in info.value.fix


def test_unknown_dependency_names_who_wanted_it(harness_repo: Path) -> None:
    make_series(harness_repo, "xdp", depends_on=("missing-dep",))
    with pytest.raises(UsageError) as info:
        resolve(["xdp"], load_all(harness_repo))
    assert info.value.problem == "unknown series 'missing-dep' (a dependency of xdp)"
    assert info.value.fix is not None
    assert "known series: xdp" in info.value.fix


def test_cycle_reported_with_path(harness_repo: Path) -> None:
    make_series(harness_repo, "a", depends_on=("b",))
    make_series(harness_repo, "b", depends_on=("c",))
    make_series(harness_repo, "c", depends_on=("a",))
    with pytest.raises(UsageError) as info:
        resolve(["a"], load_all(harness_repo))
    assert info.value.problem == "series dependency cycle: a -> b -> c -> a"
    assert info.value.fix == "fix depends-on in series.toml"


def test_cycle_below_the_requested_series(harness_repo: Path) -> None:
    make_series(harness_repo, "top", depends_on=("a",))
    make_series(harness_repo, "a", depends_on=("b",))
    make_series(harness_repo, "b", depends_on=("a",))
    with pytest.raises(UsageError) as info:
        resolve(["top"], load_all(harness_repo))
    assert info.value.problem == "series dependency cycle: a -> b -> a"


def test_self_dependency_is_a_cycle(harness_repo: Path) -> None:
    make_series(harness_repo, "a", depends_on=("a",))
    with pytest.raises(UsageError, match=r"cycle: a -> a"):
        resolve(["a"], load_all(harness_repo))


def test_nothing_requested() -> None:
    with pytest.raises(UsageError) as info:
        resolve([], {})
    assert info.value.problem == "no series given"
    assert info.value.fix is not None
    assert "--series NAME" in info.value.fix
    assert "--all" in info.value.fix


def test_stack_key_names_series_with_patches(diamond: dict[str, Series]) -> None:
    assert stack_key(resolve(["top"], diamond)) == "left+right+top"


def test_stack_key_without_patches_is_last_series(diamond: dict[str, Series]) -> None:
    assert stack_key(resolve(["base"], diamond)) == "base"


def test_selftest_suites_in_order_without_duplicates(harness_repo: Path) -> None:
    make_series(harness_repo, "base", selftests=("baseline",))
    make_series(harness_repo, "a", depends_on=("base",), selftests=("baseline", "xdp_a"))
    make_series(harness_repo, "b", depends_on=("a",), selftests=("xdp_b", "xdp_a", "baseline"))
    stack = resolve(["b"], load_all(harness_repo))
    assert selftest_suites(stack) == ["baseline", "xdp_a", "xdp_b"]


def test_config_fragments_in_order_without_duplicates(harness_repo: Path) -> None:
    make_series(harness_repo, "a", config=("bpf.config", "net.config"))
    make_series(harness_repo, "b", depends_on=("a",), config=("xdp.config", "bpf.config"))
    stack = resolve(["b"], load_all(harness_repo))
    assert config_fragments(stack) == ["bpf.config", "net.config", "xdp.config"]


def test_config_key_names_the_extra_fragments() -> None:
    from harness.series import config_key

    assert config_key("baseline", []) == "baseline"
    assert config_key("baseline", ["userns.config", "x/debug.config"]) == (
        "baseline.with-userns-debug"
    )
