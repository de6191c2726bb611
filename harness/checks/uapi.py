"""UAPI mirror: every change to include/uapi/ is made byte for byte to its copy in
tools/include/uapi/ within the series (where the tools/ copy exists), and the other
way: a change to a tools/include/uapi/ copy is one the series makes to the kernel's
header too (the copy follows the header, never leads it).

Without a tree (--no-build) the patches' changed lines are compared; with one, the
files themselves after each patch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from harness.checks import CheckResult, Status, failed, passed, skipped, warned
from harness.checks.diffs import changed_lines
from harness.mbox import Posting

NAME = "uapi-mirror"
UAPI = "include/uapi/"

# Whether the base has tools/<path>: None when there is no base to ask.
MirrorExists = Callable[[str], bool | None]


def mirror(path: str) -> str:
    return "tools/" + path


@dataclass(frozen=True)
class _Finding:
    status: Status
    text: str


def _combine(findings: list[_Finding], none: str) -> CheckResult:
    if not findings:
        return passed(NAME, none)
    log = "\n".join(f.text for f in findings)
    bad = [f.text.splitlines()[0] for f in findings if f.status is Status.FAIL]
    warn = [f.text.splitlines()[0] for f in findings if f.status is Status.WARN]
    if bad:
        return failed(NAME, "; ".join(bad), log)
    if warn:
        return warned(NAME, "; ".join(warn), log)
    return passed(NAME, "; ".join(f.text.splitlines()[0] for f in findings), log)


def uapi_files(posting: Posting) -> dict[int, list[str]]:
    """The include/uapi/ files each patch changes."""
    return {
        m.number: [f for f in changed_lines(m.diff) if f.startswith(UAPI)] for m in posting.patches
    }


Changes = dict[int, dict[str, list[str]]]  # per patch: its changed lines per file


def _changes(posting: Posting) -> Changes:
    return {m.number: changed_lines(m.diff) for m in posting.patches}


def _pool(changes: Changes, prefix: str) -> dict[str, Counter[str]]:
    """The series' changed lines of every file under ``prefix``."""
    pool: dict[str, Counter[str]] = {}
    for files in changes.values():
        for f, lines in files.items():
            if f.startswith(prefix):
                pool.setdefault(f, Counter()).update(lines)
    return pool


def _take(pool: dict[str, Counter[str]], f: str, lines: list[str]) -> Counter[str]:
    """Take ``lines`` out of ``pool[f]`` (each line used once); those it lacked."""
    have = pool.get(f, Counter())
    pool[f] = have - Counter(lines)
    return Counter(lines) - have


def _not_made(f: str, other: str, missing: Counter[str], why: str = "") -> _Finding:
    sample = "\n".join(sorted(missing.elements())[:5])
    return _Finding(
        Status.FAIL,
        f"{sum(missing.values())} changed line(s) of {f} are not made to {other} in the "
        f"series{why}:\n{sample}",
    )


def _unled(changes: Changes) -> dict[int, list[_Finding]]:
    """Per patch: its changed lines of tools/include/uapi/ copies that the series
    does not make to the kernel's header."""
    pool = _pool(changes, UAPI)
    found: dict[int, list[_Finding]] = {}
    for n, files in changes.items():
        for f, lines in files.items():
            if not f.startswith("tools/" + UAPI):
                continue
            header = f.removeprefix("tools/")
            missing = _take(pool, header, lines)
            if missing:
                why = f": the tools/ copy follows the kernel's header, change {header}"
                found.setdefault(n, []).append(_not_made(f, header, missing, why))
    return found


def by_hunks(posting: Posting, exists: MirrorExists) -> dict[int, CheckResult]:
    """Per patch: its include/uapi/ changed lines are among the series' changes to
    the tools/ copies (each line used once), and the other way."""
    changes = _changes(posting)
    pool = _pool(changes, "tools/" + UAPI)
    where = {f: [n for n, files in changes.items() if f in files] for f in pool}
    unled = _unled(changes)
    results: dict[int, CheckResult] = {}
    for n, files in changes.items():
        findings: list[_Finding] = list(unled.get(n, []))
        for f, lines in files.items():
            if not f.startswith(UAPI):
                continue
            copy = mirror(f)
            if copy in pool:
                missing = _take(pool, copy, lines)
                if missing:
                    findings.append(_not_made(f, copy, missing))
                else:
                    in_patches = ", ".join(str(p) for p in where[copy])
                    findings.append(_Finding(Status.PASS, f"{f}: mirrored (patch {in_patches})"))
                continue
            has = exists(copy)
            if has is False:
                findings.append(_Finding(Status.PASS, f"{f}: no copy in tools/"))
            elif has is None:
                findings.append(
                    _Finding(
                        Status.WARN,
                        f"{f} changed, {copy} not: no base tree to tell whether that copy "
                        "exists (pass --kernel-tree)",
                    )
                )
            else:
                findings.append(
                    _Finding(Status.FAIL, f"{f} changed, its copy {copy} not in the series")
                )
        results[n] = _combine(findings, "no UAPI header changed")
    return results


def by_files(
    posting: Posting,
    equal: Sequence[Mapping[str, bool | None]],
    differences: Mapping[str, str],
    hunks: Mapping[int, CheckResult],
) -> dict[int, CheckResult]:
    """Per patch, from the files of the tree: ``equal[0]`` says for each include/uapi/
    file the series changes whether its tools/ copy is identical at the base (None:
    there is none), ``equal[i]`` after patch i (fewer entries: a patch did not
    apply). ``differences``: the diff of each pair still different at the end.
    Where the copies differed already at the base, the changes are compared
    (``hunks``, from by_hunks)."""
    unled = _unled(_changes(posting))
    results: dict[int, CheckResult] = {}
    for n, files in uapi_files(posting).items():
        if n >= len(equal) and (files or n in unled):
            results[n] = skipped(NAME, "the patch did not apply")
            continue
        findings: list[_Finding] = list(unled.get(n, []))
        if not files:
            results[n] = _combine(findings, "no UAPI header changed")
            continue
        for f in files:
            now = equal[n].get(f)
            if now is None:
                findings.append(_Finding(Status.PASS, f"{f}: no copy in tools/"))
            elif now:
                findings.append(_Finding(Status.PASS, f"{f}: {mirror(f)} identical"))
            elif equal[0].get(f) is False:
                h = hunks[n]
                findings.append(
                    _Finding(
                        h.status,
                        f"{f}: the tools/ copy differed already at the base; its changes "
                        f"compared: {h.summary}",
                    )
                )
            else:
                later = next((j for j in range(n + 1, len(equal)) if equal[j].get(f)), None)
                if later is not None:
                    findings.append(_Finding(Status.PASS, f"{f}: mirrored by patch {later}"))
                else:
                    diff = differences.get(f, "")
                    findings.append(
                        _Finding(
                            Status.FAIL,
                            f"{mirror(f)} differs from {f} after this patch and after the "
                            f"series\n{diff}".rstrip(),
                        )
                    )
        results[n] = _combine(findings, "no UAPI header changed")
    return results
