"""KTAP, what kselftests print: each result line of a test's output, nested ones too.

    KTAP version 1
    1..3
    # a diagnostic line
        KTAP version 1              a nested test: its lines indented deeper,
        1..2                        its result line after them
        ok 1 first
        not ok 2 second
    not ok 1 parent
    ok 2 name # SKIP why            SKIP: skipped (with "not ok" too, as TAP has it)
    ok 3 name # XFAIL why           XFAIL or TODO: an expected failure, which passes

(Documentation/dev-tools/ktap.rst; net/lib/py's ksft_run, kselftest.h and
kselftest_harness.h print it.) A nested result is named ``parent/child`` after the
result line that ends its block; lines that are not KTAP (a traceback, a command's
output) are kept as the output of the result that follows them.

Standard library only: the guest imports it, and under TCG every import costs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERSION_RE = re.compile(r"^K?TAP version \d+\s*$")
_PLAN_RE = re.compile(r"^1\.\.(?P<count>\d+)\s*(?:#.*)?$")
_RESULT_RE = re.compile(
    r"^(?P<ok>not ok|ok)\s+(?P<num>\d+)(?:\s+-)?(?:\s+(?P<desc>[^#]*?))?\s*"
    r"(?:#\s*(?P<comment>.*?))?\s*$"
)
_HEADER_RE = re.compile(r"^#\s*Subtest:\s*(?P<name>.+?)\s*$")
_BAIL_RE = re.compile(r"^Bail out!\s*(?P<reason>.*?)\s*$")

SKIP = "SKIP"
EXPECTED_FAILURES = ("XFAIL", "TODO")
DIRECTIVES = (SKIP, *EXPECTED_FAILURES, "XPASS", "TIMEOUT", "ERROR")


@dataclass(frozen=True)
class Result:
    """One result line: ``ok 3 name # SKIP reason``."""

    path: tuple[str, ...]  # (parent, ..., name): one element at the top level
    number: int
    ok: bool
    directive: str  # one of DIRECTIVES, or "" (a plain comment is kept in reason)
    reason: str  # what follows the directive, or the comment
    line: str  # the line as printed
    index: int  # its line number in the output, from 0
    output: tuple[str, ...] = ()  # the lines printed since the previous result

    @property
    def name(self) -> str:
        return "/".join(self.path)

    @property
    def depth(self) -> int:
        return len(self.path) - 1

    @property
    def outcome(self) -> str:
        """passed | failed | skipped | xfail (an expected failure: it passes)."""
        if self.directive == SKIP:
            return "skipped"
        if self.directive in EXPECTED_FAILURES:
            return "xfail"
        return "passed" if self.ok else "failed"


@dataclass(frozen=True)
class Output:
    """A test's KTAP: its results in the order printed (a nested block before the
    result line that ends it), the top-level plan, what a reader can tell is wrong."""

    results: tuple[Result, ...]
    plan: int | None  # the top-level "1..N"; None without one
    bail_out: str | None  # the reason of "Bail out!", if the test gave up
    problems: tuple[str, ...]  # nested blocks without a result line or short of their plan
    seen: bool  # any KTAP line at all (version, plan or result)

    def top_level(self) -> list[Result]:
        return [r for r in self.results if r.depth == 0]


@dataclass
class _Block:
    """One level of nesting while it is read."""

    indent: int
    header: str | None = None  # "# Subtest: name"
    plan: int | None = None
    results: list[Result] = field(default_factory=list)  # its own, nested ones inside


def _result(m: re.Match[str], line: str, index: int, output: list[str]) -> Result:
    desc = (m["desc"] or "").strip()
    comment = (m["comment"] or "").strip()
    word, _, rest = comment.partition(" ")
    directive = word.upper() if word.upper() in DIRECTIVES else ""
    return Result(
        path=(desc or m["num"],),
        number=int(m["num"]),
        ok=m["ok"] == "ok",
        directive=directive,
        reason=rest.strip() if directive else comment,
        line=line,
        index=index,
        output=tuple(output),
    )


def _nest(parent: str, results: list[Result]) -> list[Result]:
    return [
        Result((parent, *r.path), r.number, r.ok, r.directive, r.reason, r.line, r.index, r.output)
        for r in results
    ]


def _unique(results: list[Result]) -> list[Result]:
    """Names made unique: a repeated one gets " #<number>" (then " #<number>.2", ...)."""
    seen: set[str] = set()
    out = []
    for r in results:
        path, n = r.path, 1
        while "/".join(path) in seen:
            n += 1
            suffix = f" #{r.number}" + (f".{n - 1}" if n > 2 else "")
            path = (*r.path[:-1], r.path[-1] + suffix)
        seen.add("/".join(path))
        out.append(Result(path, r.number, r.ok, r.directive, r.reason, r.line, r.index, r.output))
    return out


def parse(lines: list[str]) -> Output:
    """The KTAP results in a test's output, top level and nested."""
    blocks: list[_Block] = []
    problems: list[str] = []
    bail_out: str | None = None
    seen = False
    pending: list[str] = []  # output since the last result

    def close_deeper(indent: int, parent: bool) -> list[Result]:
        """End the blocks nested deeper than indent. The results of the one right
        under a result line (parent) are its children: returned. Any other block's
        parent result never came: its results go to the block around it."""
        children: list[Result] = []
        while len(blocks) > 1 and blocks[-1].indent > indent:
            block = blocks.pop()
            _check_plan(block, problems)
            if parent and not (len(blocks) > 1 and blocks[-1].indent > indent):
                children = block.results
            else:
                blocks[-1].results.extend(_orphaned(block, problems))
        return children

    for index, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        content = line.strip()
        indent = len(line) - len(line.lstrip())
        version, plan = _VERSION_RE.match(content), _PLAN_RE.match(content)
        result, header = _RESULT_RE.match(content), _HEADER_RE.match(content)
        if not (version or plan or result or (header and blocks)):
            bail = _BAIL_RE.match(content)
            if bail and bail_out is None:
                bail_out = bail["reason"] or "(no reason given)"
            pending.append(line)
            continue
        seen = True
        if not blocks or indent > blocks[-1].indent:
            blocks.append(_Block(indent))
        if result:
            children = close_deeper(indent, parent=True)
            res = _result(result, line, index, pending)
            pending = []
            blocks[-1].results.extend([*_nest(res.path[0], children), res])
        else:
            close_deeper(indent, parent=False)
            if plan:
                blocks[-1].plan = int(plan["count"])
            elif header:
                blocks[-1].header = header["name"]
    # Blocks still open at the end: their parent's result line never came (a crash).
    while len(blocks) > 1:
        block = blocks.pop()
        _check_plan(block, problems)
        blocks[-1].results.extend(_orphaned(block, problems))
    top = blocks[0] if blocks else _Block(0)
    return Output(tuple(_unique(top.results)), top.plan, bail_out, tuple(problems), seen)


def _where(block: _Block) -> str:
    return f"subtest {block.header!r}" if block.header else "a nested test"


def _orphaned(block: _Block, problems: list[str]) -> list[Result]:
    """The results of a nested block whose own result line never came: named after
    its "# Subtest:" header if it had one."""
    problems.append(f"{_where(block)} has no result line of its own (did it crash?)")
    return _nest(block.header, block.results) if block.header else block.results


def _check_plan(block: _Block, problems: list[str]) -> None:
    own = [r for r in block.results if r.depth == 0]
    if block.plan is not None and len(own) != block.plan:
        problems.append(f"{_where(block)} planned {block.plan} results, reported {len(own)}")
