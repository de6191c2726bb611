"""parse_config, merge_fragments and check_config on real .config / fragment text."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ExitCode, UsageError
from harness.kconfig import Dropped, check_config, config_hash, merge_fragments, parse_config

# The head of a real `make olddefconfig` .config.
DOTCONFIG = """\
#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.12.117 Kernel Configuration
#
CONFIG_CC_VERSION_TEXT="gcc (Debian 12.2.0-14) 12.2.0"
CONFIG_CC_IS_GCC=y
CONFIG_GCC_VERSION=120200
CONFIG_LOCALVERSION=""
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_BPF_SYSCALL=y
CONFIG_NET_SCH_FQ=m
CONFIG_LOG_BUF_SHIFT=17
CONFIG_ILLEGAL_POINTER_VALUE=0xdead000000000000
CONFIG_DEFAULT_HOSTNAME="(none)"

#
# Networking options
#
CONFIG_XDP_SOCKETS=y
"""


def test_parse_config_values() -> None:
    sym = parse_config(DOTCONFIG)
    assert sym["CONFIG_BPF_SYSCALL"] == "y"
    assert sym["CONFIG_NET_SCH_FQ"] == "m"
    assert sym["CONFIG_CC_VERSION_TEXT"] == '"gcc (Debian 12.2.0-14) 12.2.0"'
    assert sym["CONFIG_LOCALVERSION"] == '""'
    assert sym["CONFIG_GCC_VERSION"] == "120200"
    assert sym["CONFIG_LOG_BUF_SHIFT"] == "17"
    assert sym["CONFIG_ILLEGAL_POINTER_VALUE"] == "0xdead000000000000"
    assert sym["CONFIG_LOCALVERSION_AUTO"] == "n"
    assert sym["CONFIG_XDP_SOCKETS"] == "y"
    assert len(sym) == 11  # comments and blank lines are not symbols


def test_parse_config_later_line_wins_and_whitespace_is_stripped() -> None:
    assert parse_config("  CONFIG_A=y  \nCONFIG_A=m\n") == {"CONFIG_A": "m"}


def test_lenient_mode_ignores_junk() -> None:
    assert parse_config("CONFIG_A=y\nthis is junk\nCONFIG_B = y\n") == {"CONFIG_A": "y"}


def test_strict_mode_names_file_and_line() -> None:
    text = "# XDP\nCONFIG_BPF=y\n\nCONFIG_XDP_SOCKETS = y\n"
    with pytest.raises(UsageError) as info:
        parse_config(text, "kernel-config/xdp.config", strict=True)
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert err.problem == "kernel-config/xdp.config:4: not a config line: 'CONFIG_XDP_SOCKETS = y'"
    assert err.fix is not None
    assert "CONFIG_FOO=y" in err.fix
    assert "# CONFIG_FOO is not set" in err.fix


@pytest.mark.parametrize("junk", ["XDP_SOCKETS=y", "CONFIG_FOO", "y", "CONFIG_FOO is not set"])
def test_strict_mode_rejects(junk: str) -> None:
    with pytest.raises(UsageError, match=r"f\.config:1: not a config line"):
        parse_config(junk + "\n", "f.config", strict=True)


def test_strict_mode_accepts_comments_and_unset() -> None:
    text = "## heading\n# free comment\n# CONFIG_X is not set\nCONFIG_Y=y\n"
    assert parse_config(text, "f", strict=True) == {"CONFIG_X": "n", "CONFIG_Y": "y"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_merge_later_fragment_wins_and_override_reported(tmp_path: Path) -> None:
    base = _write(tmp_path, "base.config", "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n")
    debug = _write(tmp_path, "debug.config", "# CONFIG_B is not set\nCONFIG_C=y\nCONFIG_A=y\n")
    merged = merge_fragments([base, debug])
    assert merged.symbols == {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "y"}
    assert merged.overrides == [
        "CONFIG_B: base.config says y, debug.config says n",
        "CONFIG_C: base.config says n, debug.config says y",
    ]
    assert merged.text == (
        "# merged from: base.config, debug.config\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\n"
    )


def test_merged_text_parses_back_to_the_same_symbols(tmp_path: Path) -> None:
    frag = _write(tmp_path, "a.config", 'CONFIG_S="x y"\nCONFIG_N=42\n# CONFIG_U is not set\n')
    merged = merge_fragments([frag])
    assert parse_config(merged.text, strict=True) == merged.symbols


def test_merge_missing_fragment(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"config fragment .*nope\.config not found"):
        merge_fragments([tmp_path / "nope.config"])


def test_merge_rejects_junk_with_location(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.config", "CONFIG_A=y\nCONFIG_B y\n")
    with pytest.raises(UsageError) as info:
        merge_fragments([bad])
    assert info.value.problem.startswith(f"{bad}:2: not a config line")


def test_check_config_reports_dropped_symbols() -> None:
    requested = {
        "CONFIG_BPF_SYSCALL": "y",
        "CONFIG_NET_SCH_FQ": "y",  # became a module
        "CONFIG_XDP_SOCKETS_DIAG": "y",  # absent: its dependency is off
        "CONFIG_LOCALVERSION_AUTO": "n",
        "CONFIG_NOT_IN_KERNEL": "n",  # asked off and absent: fine
        "CONFIG_LOG_BUF_SHIFT": "17",
    }
    dropped = check_config(requested, parse_config(DOTCONFIG))
    assert dropped == [
        Dropped("CONFIG_NET_SCH_FQ", "y", "m"),
        Dropped("CONFIG_XDP_SOCKETS_DIAG", "y", "n"),
    ]


def test_check_config_all_present() -> None:
    assert check_config(parse_config(DOTCONFIG), parse_config(DOTCONFIG)) == []


def test_config_hash_is_stable_and_content_based(tmp_path: Path) -> None:
    a = _write(tmp_path, "a", DOTCONFIG)
    b = _write(tmp_path, "b", DOTCONFIG)
    c = _write(tmp_path, "c", DOTCONFIG + "CONFIG_X=y\n")
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(c)
    assert len(config_hash(a)) == 16
    int(config_hash(a), 16)
