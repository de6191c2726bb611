"""series.toml parsing: what a valid manifest gives, and how bad ones are reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_series, patch_text, write_manifest

from harness.errors import ExitCode, UsageError
from harness.series import load_all, load_series

VALID = """\
name = "xdp-meta"
description = "XDP metadata for veth"
base = "6.12.117"
depends-on = ["baseline"]
config = ["bpf.config"]
selftests = ["baseline", "xdp_meta"]
"""


def _valid_repo(repo: Path) -> Path:
    (repo / "kernel-config" / "bpf.config").write_text("CONFIG_BPF_SYSCALL=y\n")
    (repo / "selftests" / "baseline").mkdir()
    (repo / "selftests" / "xdp_meta").mkdir()
    return write_manifest(repo, "xdp-meta", VALID)


def _error(series_dir: Path, repo: Path) -> UsageError:
    with pytest.raises(UsageError) as info:
        load_series(series_dir, repo)
    assert info.value.exit_code == ExitCode.USAGE
    return info.value


def test_valid_manifest_fields(harness_repo: Path) -> None:
    d = _valid_repo(harness_repo)
    s = load_series(d, harness_repo)
    assert s.name == "xdp-meta"
    assert s.path == d
    assert s.description == "XDP metadata for veth"
    assert s.base == "6.12.117"
    assert s.depends_on == ("baseline",)
    assert s.config == ("bpf.config",)
    assert s.selftests == ("baseline", "xdp_meta")
    assert s.patches == ()
    assert s.cover_letter is None


def test_optional_keys_default_to_empty(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "bare", 'name = "bare"\n')
    s = load_series(d, harness_repo)
    assert (s.base, s.description, s.depends_on, s.config, s.selftests) == (None, "", (), (), ())


def test_patches_sorted_and_cover_letter_excluded(harness_repo: Path) -> None:
    d = _valid_repo(harness_repo)
    for name in (
        "0002-second.patch",
        "0010-tenth.patch",
        "0001-first.patch",
        "0000-cover-letter.patch",
        "notes.txt",
        "fix.patch",  # not git format-patch output: no NNNN- prefix
        "0003-third.patch.orig",
    ):
        (d / name).write_text(patch_text(f"[PATCH] {name}"))
    s = load_series(d, harness_repo)
    assert [p.name for p in s.patches] == [
        "0001-first.patch",
        "0002-second.patch",
        "0010-tenth.patch",
    ]
    assert s.cover_letter == d / "0000-cover-letter.patch"


def test_name_must_match_directory(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "xdp-meta", 'name = "xdp_meta"\n')
    err = _error(d, harness_repo)
    assert "name = 'xdp_meta' does not match its directory 'xdp-meta'" in err.problem
    assert str(d / "series.toml") in err.problem
    assert err.fix == 'set name = "xdp-meta"'


def test_missing_name_is_a_mismatch(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "nameless", 'description = "x"\n')
    err = _error(d, harness_repo)
    assert "name = None does not match its directory 'nameless'" in err.problem


def test_unknown_keys_listed_with_known_ones(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s"\ndepends_on = ["x"]\nsuite = "y"\n')
    err = _error(d, harness_repo)
    assert "unknown keys ['depends_on', 'suite']" in err.problem
    assert err.fix is not None
    assert "depends-on" in err.fix
    assert "selftests" in err.fix


def test_invalid_toml_names_file(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s\n')
    err = _error(d, harness_repo)
    assert f"{d / 'series.toml'}: not valid TOML" in err.problem


def test_missing_manifest_names_it(harness_repo: Path) -> None:
    d = harness_repo / "patches" / "s"
    d.mkdir()
    err = _error(d, harness_repo)
    assert "no series.toml" in err.problem
    assert err.fix is not None
    assert str(d / "series.toml") in err.fix


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('depends-on = "baseline"', "depends-on"),
        ("config = [1, 2]", "config"),
        ('selftests = "baseline"', "selftests"),
        ('depends-on = [["a"]]', "depends-on"),
    ],
)
def test_list_keys_must_be_lists_of_strings(harness_repo: Path, line: str, key: str) -> None:
    d = write_manifest(harness_repo, "s", f'name = "s"\n{line}\n')
    err = _error(d, harness_repo)
    assert f"'{key}' must be a list of strings" in err.problem
    assert err.fix == f'e.g. {key} = ["a"]'


def test_base_must_be_a_string(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s"\nbase = 6.12\n')
    err = _error(d, harness_repo)
    assert "'base' must be a version string" in err.problem


def test_missing_config_fragment_named(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s"\nconfig = ["xdp.config"]\n')
    err = _error(d, harness_repo)
    assert "config fragment 'xdp.config' not found in kernel-config/" in err.problem
    assert err.fix == "add the fragment or fix the name"


def test_missing_selftest_suite_named(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s"\nselftests = ["xdp_meta"]\n')
    err = _error(d, harness_repo)
    assert "selftest suite 'xdp_meta' not found in selftests/" in err.problem
    assert err.fix == "add the suite directory or fix the name"


def test_patch_subject_strips_patch_prefix(harness_repo: Path) -> None:
    d = make_series(
        harness_repo,
        "s",
        patches={"0001-a.patch": patch_text("[PATCH net-next v2 1/3] xdp: add a hook")},
    )
    s = load_series(d, harness_repo)
    assert s.patch_subject(s.patches[0]) == "xdp: add a hook"


def test_patch_subject_without_subject_line_is_file_name(harness_repo: Path) -> None:
    d = make_series(harness_repo, "s", patches={"0001-a.patch": "diff --git a/x b/x\n"})
    s = load_series(d, harness_repo)
    assert s.patch_subject(s.patches[0]) == "0001-a.patch"


def test_patch_subject_unfolds_long_subject(harness_repo: Path) -> None:
    # git format-patch folds a Subject longer than 78 columns onto a continuation
    # line; git am reports (and `harness list` should show) the whole subject.
    folded = (
        "[PATCH net-next 2/5] xdp: let the generic XDP path honour the\n"
        " metadata area reserved by the driver"
    )
    d = make_series(harness_repo, "s", patches={"0001-a.patch": patch_text(folded)})
    s = load_series(d, harness_repo)
    assert s.patch_subject(s.patches[0]) == (
        "xdp: let the generic XDP path honour the metadata area reserved by the driver"
    )


def test_load_all_finds_every_series(harness_repo: Path) -> None:
    make_series(harness_repo, "beta")
    make_series(harness_repo, "alpha")
    (harness_repo / "patches" / "README").write_text("not a series\n")
    known = load_all(harness_repo)
    assert list(known) == ["alpha", "beta"]
    assert known["alpha"].name == "alpha"


def test_load_all_reports_series_dir_without_manifest(harness_repo: Path) -> None:
    # A directory of patches whose series.toml was forgotten must not vanish
    # silently (it would then be reported as an "unknown series").
    make_series(harness_repo, "alpha")
    lost = harness_repo / "patches" / "forgotten"
    lost.mkdir()
    (lost / "0001-x.patch").write_text(patch_text("[PATCH] x"))
    with pytest.raises(UsageError) as info:
        load_all(harness_repo)
    assert "no series.toml" in info.value.problem
    assert "forgotten" in info.value.problem


def test_tools_are_read_and_stacked(tmp_path: Path) -> None:
    from harness.series import load_series, tools

    (tmp_path / "patches" / "a").mkdir(parents=True)
    (tmp_path / "kernel-config").mkdir()
    (tmp_path / "selftests").mkdir()
    (tmp_path / "patches" / "a" / "series.toml").write_text('name = "a"\ntools = ["bpftool"]\n')
    s = load_series(tmp_path / "patches" / "a", tmp_path)
    assert s.tools == ("bpftool",)
    assert tools([s, s]) == ["bpftool"]


def test_unknown_tool_is_a_usage_error(tmp_path: Path) -> None:
    import pytest

    from harness.errors import UsageError
    from harness.kerneltools import build_tools
    from harness.runner import Runner

    with pytest.raises(UsageError) as exc:
        build_tools(["perf"], tmp_path, tmp_path, Runner(), tmp_path)
    assert "unknown tool 'perf'" in str(exc.value)
    assert "bpftool" in str(exc.value)


def test_bpf_selftests_read_and_stacked(harness_repo: Path) -> None:
    from harness.series import bpf_selftests

    a = load_series(
        write_manifest(harness_repo, "a", 'name = "a"\nbpf-selftests = ["xdp_features"]\n'),
        harness_repo,
    )
    b = load_series(
        write_manifest(
            harness_repo, "b", 'name = "b"\nbpf-selftests = ["xdp_bonding", "xdp_features"]\n'
        ),
        harness_repo,
    )
    assert a.bpf_selftests == ("xdp_features",)
    assert bpf_selftests([a, b]) == ["xdp_features", "xdp_bonding"]


def test_bpf_selftests_default_to_none(harness_repo: Path) -> None:
    s = load_series(write_manifest(harness_repo, "s", 'name = "s"\n'), harness_repo)
    assert s.bpf_selftests == ()


@pytest.mark.parametrize(
    "value",
    ['"xdp_features"', "[1]", '[["xdp_features"]]'],
)
def test_bpf_selftests_must_be_a_list_of_strings(harness_repo: Path, value: str) -> None:
    d = write_manifest(harness_repo, "s", f'name = "s"\nbpf-selftests = {value}\n')
    err = _error(d, harness_repo)
    assert "'bpf-selftests' must be a list of strings" in err.problem
    assert err.fix == 'e.g. bpf-selftests = ["a"]'


@pytest.mark.parametrize(
    "name", ["prog_tests/xdp_features.c", "xdp_features.c", "xdp-features", "", "../x"]
)
def test_bpf_selftests_are_prog_tests_names(harness_repo: Path, name: str) -> None:
    d = write_manifest(harness_repo, "s", f'name = "s"\nbpf-selftests = ["{name}"]\n')
    err = _error(d, harness_repo)
    assert f"bpf-selftests entry {name!r} is not a prog_tests name" in err.problem
    assert err.fix is not None
    assert 'bpf-selftests = ["xdp_features"]' in err.fix


def test_bpf_selftests_listed_twice(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s"\nbpf-selftests = ["a", "b", "a"]\n')
    err = _error(d, harness_repo)
    assert "bpf-selftests lists ['a'] more than once" in err.problem


def test_unknown_key_fix_names_bpf_selftests(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s"\nbpf_selftests = ["a"]\n')
    err = _error(d, harness_repo)
    assert "unknown keys ['bpf_selftests']" in err.problem
    assert err.fix is not None
    assert "'bpf-selftests'" in err.fix
