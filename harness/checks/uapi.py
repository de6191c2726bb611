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


def _unled(posting: Posting) -> dict[int, list[_Finding]]:
    """Per patch: its changed lines of tools/include/uapi/ copies that the series
    does not make to the kernel's header (each line used once)."""
    pool: dict[str, Counter[str]] = {}
    for m in posting.patches:
        for f, lines in changed_lines(m.diff).items():
            if f.startswith(UAPI):
                pool.setdefault(f, Counter()).update(lines)
    found: dict[int, list[_Finding]] = {}
    for m in posting.patches:
        for f, lines in changed_lines(m.diff).items():
            if not f.startswith("tools/" + UAPI):
                continue
            header = f.removeprefix("tools/")
            have = pool.get(header, Counter())
            missing = Counter(lines) - have
            pool[header] = have - Counter(lines)
            if missing:
                sample = "\n".join(sorted(missing.elements())[:5])
                found.setdefault(m.number, []).append(
                    _Finding(
                        Status.FAIL,
                        f"{sum(missing.values())} changed line(s) of {f} are not made to "
                        f"{header} in the series: the tools/ copy follows the kernel's "
                        f"header, change {header}:\n{sample}",
                    )
                )
    return found


def by_hunks(posting: Posting, exists: MirrorExists) -> dict[int, CheckResult]:
    """Per patch: its include/uapi/ changed lines are among the series' changes to
    the tools/ copies (each line used once)."""
    pool: dict[str, Counter[str]] = {}
    where: dict[str, list[int]] = {}
    for m in posting.patches:
        for f, lines in changed_lines(m.diff).items():
            if f.startswith("tools/" + UAPI):
                pool.setdefault(f, Counter()).update(lines)
                where.setdefault(f, []).append(m.number)
    unled = _unled(posting)
    results: dict[int, CheckResult] = {}
    for m in posting.patches:
        findings: list[_Finding] = list(unled.get(m.number, []))
        for f, lines in changed_lines(m.diff).items():
            if not f.startswith(UAPI):
                continue
            copy = mirror(f)
            if copy in pool:
                missing = Counter(lines) - pool[copy]
                pool[copy] -= Counter(lines)
                if missing:
                    sample = "\n".join(sorted(missing.elements())[:5])
                    findings.append(
                        _Finding(
                            Status.FAIL,
                            f"{sum(missing.values())} changed line(s) of {f} are not made to "
                            f"{copy} in the series:\n{sample}",
                        )
                    )
                else:
                    in_patches = ", ".join(str(n) for n in where[copy])
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
        results[m.number] = _combine(findings, "no UAPI header changed")
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
    unled = _unled(posting)
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
