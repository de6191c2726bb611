"""Kernel configuration from fragments, and the check that every symbol survived."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError

_SET_RE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET_RE = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


def parse_config(text: str, where: str = "<config>", strict: bool = False) -> dict[str, str]:
    """Symbols of a .config or fragment; 'is not set' is recorded as 'n'."""
    symbols: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        m = _SET_RE.match(line)
        if m:
            symbols[m.group(1)] = m.group(2)
            continue
        m = _UNSET_RE.match(line)
        if m:
            symbols[m.group(1)] = "n"
            continue
        if strict and line and not line.startswith("#"):
            raise UsageError(
                f"{where}:{lineno}: not a config line: {raw!r}",
                "use CONFIG_FOO=y, CONFIG_FOO=\"str\" or '# CONFIG_FOO is not set'",
            )
    return symbols


@dataclass(frozen=True)
class MergedConfig:
    symbols: dict[str, str]
    text: str
    overrides: list[str]  # "CONFIG_X: a.config says y, b.config says n"


def merge_fragments(paths: list[Path]) -> MergedConfig:
    """Later fragments win, as with scripts/kconfig/merge_config.sh; overrides are reported."""
    symbols: dict[str, str] = {}
    origin: dict[str, str] = {}
    overrides: list[str] = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"config fragment {path} not found")
        for sym, val in parse_config(path.read_text(), str(path), strict=True).items():
            if sym in symbols and symbols[sym] != val:
                overrides.append(
                    f"{sym}: {origin[sym]} says {symbols[sym]}, {path.name} says {val}"
                )
            symbols[sym] = val
            origin[sym] = path.name
    lines = [f"# merged from: {', '.join(p.name for p in paths)}"]
    for sym, val in symbols.items():
        lines.append(f"# {sym} is not set" if val == "n" else f"{sym}={val}")
    return MergedConfig(symbols, "\n".join(lines) + "\n", overrides)


@dataclass(frozen=True)
class Dropped:
    symbol: str
    wanted: str
    got: str  # "n" when absent


def check_config(requested: dict[str, str], dotconfig: dict[str, str]) -> list[Dropped]:
    dropped = []
    for sym, want in requested.items():
        got = dotconfig.get(sym, "n")
        if got != want:
            dropped.append(Dropped(sym, want, got))
    return dropped


def kconfig_definition(srctree: Path, symbol: str) -> tuple[Path, list[str]] | None:
    """Where a symbol is defined and its 'depends on' lines, to explain a dropped symbol."""
    name = symbol.removeprefix("CONFIG_")
    head = re.compile(rf"^\s*(menu)?config\s+{re.escape(name)}\s*$")
    for kconfig in sorted(srctree.rglob("Kconfig*")):
        if "Documentation" in kconfig.parts or not kconfig.is_file():
            continue
        try:
            lines = kconfig.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for i, line in enumerate(lines):
            if head.match(line):
                deps = []
                for nxt in lines[i + 1 : i + 40]:
                    if re.match(r"^\s*(menu)?config\s|^\s*(endmenu|endif|choice|endchoice)", nxt):
                        break
                    if re.match(r"^\s*depends on\s", nxt):
                        deps.append(nxt.strip())
                return kconfig.relative_to(srctree), deps
    return None


def dropped_error(dropped: list[Dropped], srctree: Path, config_path: Path) -> UsageError:
    lines = []
    for d in dropped:
        where = kconfig_definition(srctree, d.symbol)
        if where is None:
            hint = "no such symbol in this kernel (a typo, or removed upstream)"
        else:
            kfile, deps = where
            hint = f"defined in {kfile}" + (f"; {'; '.join(deps)}" if deps else "")
        lines.append(f"  {d.symbol}: requested {d.wanted}, got {d.got} ({hint})")
    return UsageError(
        f"{len(dropped)} requested config symbol(s) did not survive configuration "
        f"(see {config_path}):\n" + "\n".join(lines),
        "add the missing dependencies to the fragment, or drop the symbol",
    )


def config_hash(dotconfig: Path) -> str:
    return hashlib.sha256(dotconfig.read_bytes()).hexdigest()[:16]
