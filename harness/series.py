"""Patch series: patches/<name>/ with series.toml and git format-patch output."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness import kselftests as ksft
from harness.errors import UsageError

MANIFEST = "series.toml"
COVER_LETTER = "0000-cover-letter.patch"
_PATCH_RE = re.compile(r"^\d{4}-.+\.patch$")
_KEYS = {
    "name",
    "description",
    "base",
    "depends-on",
    "config",
    "selftests",
    "tools",
    "bpf-selftests",
    "kselftests",
    "vm",
    "checkpatch",
}
_VM_KEYS = {"cpus", "memory", "append"}
_MEMORY_RE = re.compile(r"^(\d+)([MG])$")
MAX_CPUS = 8
# Userspace tools a series may ask for (tools = [...]), built from its tree by
# harness.kerneltools.
KNOWN_TOOLS = ("bpftool",)
# A tools/testing/selftests/bpf/prog_tests/<name>.c of the tree: a C file name, no path.
_BPF_SELFTEST_RE = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class VmShape:
    """What a series asks of the guest (series.toml ``[vm]``): vCPUs, memory in MiB,
    kernel command line additions. None: the harness's default."""

    cpus: int | None = None
    memory_mib: int | None = None
    append: tuple[str, ...] = ()

    @property
    def memory(self) -> str | None:
        return None if self.memory_mib is None else f"{self.memory_mib}M"


def stack_vm_shape(stack: list[Series]) -> VmShape:
    """One guest for the whole stack: the most vCPUs and memory any series asks for,
    every series' command line additions in stack order."""
    cpus = [s.vm.cpus for s in stack if s.vm.cpus is not None]
    mem = [s.vm.memory_mib for s in stack if s.vm.memory_mib is not None]
    return VmShape(
        max(cpus) if cpus else None,
        max(mem) if mem else None,
        tuple(a for s in stack for a in s.vm.append),
    )


@dataclass(frozen=True)
class Series:
    name: str
    path: Path
    description: str
    base: str | None  # kernel version the patches were made on, e.g. "6.12.117"
    depends_on: tuple[str, ...]
    config: tuple[str, ...]  # extra fragments, relative to kernel-config/
    selftests: tuple[str, ...]  # suites under selftests/
    tools: tuple[str, ...]  # userspace tools built from the tree (e.g. bpftool)
    patches: tuple[Path, ...]
    cover_letter: Path | None
    # tools/testing/selftests/bpf/prog_tests/<name>.c of the tree, run by a test_progs
    # built with only these tests (see harness/bpf_selftests.py)
    bpf_selftests: tuple[str, ...] = ()
    # tools/testing/selftests/<collection>/<test> of the tree, run in the guest from it
    # (series.toml: kselftests = ["net:nl_netdev.py"]; see harness/kselftests.py)
    kselftests: tuple[ksft.Kselftest, ...] = ()
    vm: VmShape = VmShape()
    # checkpatch types the series justifies, with the reason (series.toml
    # [checkpatch] allow = { TYPE = "reason" }): `harness check` lists them, counts none
    checkpatch_allow: tuple[tuple[str, str], ...] = ()

    def patch_subject(self, patch: Path) -> str:
        lines = patch.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Subject:"):
                subject = line
                for cont in lines[i + 1 :]:
                    if not cont.startswith((" ", "\t")):
                        break
                    subject += cont  # RFC 2822 unfolding: drop the line break only
                return re.sub(r"^Subject:\s*(\[[^]]*\]\s*)?", "", subject)
        return patch.name


def _str_list(data: dict[str, object], key: str, where: Path) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: '{key}' must be a list of strings", f'e.g. {key} = ["a"]')
    return tuple(value)


def load_series(series_dir: Path, repo: Path) -> Series:
    manifest = series_dir / MANIFEST
    if not manifest.is_file():
        raise UsageError(
            f"{series_dir}: no {MANIFEST}",
            f"add {manifest} with name, description, depends-on, config and selftests",
        )
    try:
        data = tomllib.loads(manifest.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{manifest}: not valid TOML: {exc}") from exc
    unknown = set(data) - _KEYS
    if unknown:
        raise UsageError(
            f"{manifest}: unknown keys {sorted(unknown)}", f"known keys: {sorted(_KEYS)}"
        )
    name = data.get("name")
    if name != series_dir.name:
        raise UsageError(
            f"{manifest}: name = {name!r} does not match its directory {series_dir.name!r}",
            f'set name = "{series_dir.name}"',
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise UsageError(f"{manifest}: 'description' must be a string")
    base = data.get("base")
    if base is not None and not isinstance(base, str):
        raise UsageError(f"{manifest}: 'base' must be a version string like \"6.12.117\"")
    config = _str_list(data, "config", manifest)
    for frag in config:
        if not (repo / "kernel-config" / frag).is_file():
            raise UsageError(
                f"{manifest}: config fragment {frag!r} not found in kernel-config/",
                "add the fragment or fix the name",
            )
    selftests = _str_list(data, "selftests", manifest)
    for suite in selftests:
        if not (repo / "selftests" / suite).is_dir():
            raise UsageError(
                f"{manifest}: selftest suite {suite!r} not found in selftests/",
                "add the suite directory or fix the name",
            )
    bpf_selftests = _bpf_selftests(data, manifest)
    patches = tuple(
        sorted(
            p for p in series_dir.iterdir() if _PATCH_RE.match(p.name) and p.name != COVER_LETTER
        )
    )
    cover = series_dir / COVER_LETTER
    return Series(
        name=name,
        path=series_dir,
        description=description,
        base=base,
        depends_on=_str_list(data, "depends-on", manifest),
        config=config,
        selftests=selftests,
        tools=_tools(data, manifest),
        patches=patches,
        cover_letter=cover if cover.is_file() else None,
        bpf_selftests=bpf_selftests,
        kselftests=ksft.from_manifest(_str_list(data, "kselftests", manifest), manifest),
        vm=_vm_shape(data.get("vm", {}), manifest),
        checkpatch_allow=tuple(checkpatch_allow(data.get("checkpatch", {}), manifest).items()),
    )


def checkpatch_allow(value: object, where: Path) -> dict[str, str]:
    """``[checkpatch] allow = { TYPE = "why it is justified" }`` of a TOML file (a
    series.toml, or the --allow file of `harness check`)."""
    example = '[checkpatch]\nallow = { UNKNOWN_COMMIT_ID = "the base has no history" }'
    if not isinstance(value, dict) or set(value) - {"allow"}:
        raise UsageError(f"{where}: [checkpatch] takes one key, allow", example)
    allow = value.get("allow", {})
    if not isinstance(allow, dict) or not all(
        isinstance(k, str) and re.fullmatch(r"[A-Z0-9_]+", k) and isinstance(v, str) and v.strip()
        for k, v in allow.items()
    ):
        raise UsageError(
            f"{where}: [checkpatch] allow must map checkpatch types (as --show-types prints "
            "them) to the reason each is justified",
            example,
        )
    return dict(allow)


def _vm_shape(value: object, manifest: Path) -> VmShape:
    example = '[vm]\ncpus = 2\nmemory = "3G"\nappend = ["page_pool.debug=1"]'
    if not isinstance(value, dict):
        raise UsageError(f"{manifest}: 'vm' must be a table", example)
    unknown = set(value) - _VM_KEYS
    if unknown:
        raise UsageError(
            f"{manifest}: unknown keys {sorted(unknown)} in [vm]", f"known: {sorted(_VM_KEYS)}"
        )
    cpus = value.get("cpus")
    if cpus is not None and (
        not isinstance(cpus, int) or isinstance(cpus, bool) or not 1 <= cpus <= MAX_CPUS
    ):
        raise UsageError(f"{manifest}: [vm] cpus must be 1 to {MAX_CPUS}, got {cpus!r}", example)
    memory = value.get("memory")
    mib = None
    if memory is not None:
        m = _MEMORY_RE.match(memory) if isinstance(memory, str) else None
        if m is None or int(m.group(1)) == 0:
            raise UsageError(
                f'{manifest}: [vm] memory must be like "2048M" or "3G", got {memory!r}',
                example,
            )
        mib = int(m.group(1)) * (1024 if m.group(2) == "G" else 1)
    append = _str_list(value, "append", manifest)
    bad = [a for a in append if not a or any(c.isspace() for c in a)]
    if bad:
        raise UsageError(
            f"{manifest}: [vm] append entries are single kernel parameters, got {bad}",
            'one parameter per entry: append = ["a=1", "b"]',
        )
    return VmShape(cpus, mib, append)


def _tools(data: dict[str, object], manifest: Path) -> tuple[str, ...]:
    names = _str_list(data, "tools", manifest)
    unknown = [n for n in names if n not in KNOWN_TOOLS]
    if unknown:
        raise UsageError(
            f"{manifest}: unknown tool(s) {unknown} in tools",
            f"known tools: {', '.join(KNOWN_TOOLS)}",
        )
    return names


def _bpf_selftests(data: dict[str, object], manifest: Path) -> tuple[str, ...]:
    names = _str_list(data, "bpf-selftests", manifest)
    for name in names:
        if not _BPF_SELFTEST_RE.match(name):
            raise UsageError(
                f"{manifest}: bpf-selftests entry {name!r} is not a prog_tests name",
                "name the test file without directory or .c: tools/testing/selftests/bpf/"
                'prog_tests/xdp_features.c is bpf-selftests = ["xdp_features"]',
            )
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise UsageError(f"{manifest}: bpf-selftests lists {dups} more than once")
    return names


def _is_series_dir(d: Path) -> bool:
    return d.is_dir() and (
        (d / MANIFEST).exists() or any(_PATCH_RE.match(p.name) for p in d.iterdir())
    )


class Catalog(Mapping[str, Series]):
    """Every series under patches/, by name; a manifest is read (and checked) only when
    its series is asked for, so that one bad series.toml breaks only the commands that
    need that series, and the error names its file."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        root = repo / "patches"
        dirs = sorted(root.iterdir()) if root.is_dir() else []
        self._dirs = {d.name: d for d in dirs if _is_series_dir(d)}
        self._loaded: dict[str, Series] = {}

    def __getitem__(self, name: str) -> Series:
        if name not in self._loaded:
            self._loaded[name] = load_series(self._dirs[name], self.repo)
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._dirs

    def __iter__(self) -> Iterator[str]:
        return iter(self._dirs)

    def __len__(self) -> int:
        return len(self._dirs)


def load_all(repo: Path) -> dict[str, Series]:
    """Every series, each manifest checked: the first bad one raises."""
    return dict(Catalog(repo))


def resolve(requested: list[str], known: Mapping[str, Series]) -> list[Series]:
    """The requested series with their dependencies, dependencies first, each once."""
    order: list[Series] = []
    visiting: list[str] = []

    def visit(name: str, wanted_by: str | None) -> None:
        if name not in known:
            who = f" (a dependency of {wanted_by})" if wanted_by else ""
            raise UsageError(
                f"unknown series {name!r}{who}",
                f"known series: {', '.join(sorted(known)) or '(none)'}; see `harness list`",
            )
        if any(s.name == name for s in order):
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise UsageError(f"series dependency cycle: {cycle}", "fix depends-on in series.toml")
        visiting.append(name)
        for dep in known[name].depends_on:
            visit(dep, name)
        visiting.pop()
        order.append(known[name])

    if not requested:
        raise UsageError("no series given", "use --series NAME (see `harness list`) or --all")
    for name in requested:
        visit(name, None)
    return order


def stack_key(stack: list[Series]) -> str:
    """A name for the stacked tree: the series with patches, in apply order."""
    names = [s.name for s in stack if s.patches] or [stack[-1].name]
    return "+".join(names)


def config_key(key: str, extra_config: list[str]) -> str:
    """The cache name of a stack built with fragments beyond its own:
    ``baseline.with-userns`` for baseline plus userns.config."""
    if not extra_config:
        return key
    return f"{key}.with-" + "-".join(Path(f).stem for f in extra_config)


def selftest_suites(stack: list[Series]) -> list[str]:
    suites: list[str] = []
    for s in stack:
        for suite in s.selftests:
            if suite not in suites:
                suites.append(suite)
    return suites


def tools(stack: list[Series]) -> list[str]:
    names: list[str] = []
    for s in stack:
        names.extend(t for t in s.tools if t not in names)
    return names


def bpf_selftests(stack: list[Series]) -> list[str]:
    """The prog_tests every series of the stack lists, each once, in stack order."""
    names: list[str] = []
    for s in stack:
        names.extend(t for t in s.bpf_selftests if t not in names)
    return names


def kselftests(stack: list[Series]) -> list[tuple[ksft.Kselftest, str]]:
    """The kselftests every series of the stack lists, each once, in stack order, with
    the first series that lists it."""
    found: dict[ksft.Kselftest, str] = {}
    for s in stack:
        for t in s.kselftests:
            found.setdefault(t, s.name)
    return list(found.items())


def config_fragments(stack: list[Series]) -> list[str]:
    frags: list[str] = []
    for s in stack:
        for f in s.config:
            if f not in frags:
                frags.append(f)
    return frags
