"""Two results side by side: each test's outcome in A and in B (identical, newly
failing, newly passing, otherwise changed, missing on either side), the run's own
outcome (exit code, splats), and for bench results every figure with its ratio B/A.

Pure logic on the parsed results.json files; harness.compare_render shows it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UsageError
from harness.inputs import keyword_from_command

# results.json's outcomes, in the words of the comparison
OUTCOMES = {"passed": "pass", "failed": "fail", "skipped": "skip", "error": "error"}
FAILING = ("fail", "error")

IDENTICAL = "identical"
NEWLY_FAILING = "newly failing"
NEWLY_PASSING = "newly passing"
CHANGED = "changed"
ONLY_IN_A = "missing in B"
ONLY_IN_B = "missing in A"
# the order the groups are shown in: what needs looking at first
KINDS = (NEWLY_FAILING, NEWLY_PASSING, CHANGED, ONLY_IN_A, ONLY_IN_B, IDENTICAL)


def results_kind(data: Mapping[str, Any], where: str) -> str:
    """``run`` (harness run/test: per test outcomes) or ``bench``; anything else is
    not a harness results.json (UsageError)."""
    if "samples" in data and "summary" in data:
        return "bench"
    if isinstance(data.get("tests"), list) and "series" in data:
        return "run"
    raise UsageError(
        f"{where} is not a results.json of `harness run` or `harness bench` "
        '(no "tests" list, no bench "samples")',
        "give a results directory results/<run-id>, its results.json or a bundle",
    )


def classify(a: str | None, b: str | None) -> str:
    """What became of a test from A to B (outcomes pass | fail | skip | error)."""
    if a is None:
        return ONLY_IN_B
    if b is None:
        return ONLY_IN_A
    if a == b:
        return IDENTICAL
    if b in FAILING and a not in FAILING:
        return NEWLY_FAILING
    if b == "pass":
        return NEWLY_PASSING
    return CHANGED


@dataclass(frozen=True)
class TestRow:
    name: str  # the node id
    a: str | None  # outcome in A; None: A has no such test
    b: str | None
    message_b: str = ""  # B's first message line, when B did not pass

    @property
    def kind(self) -> str:
        return classify(self.a, self.b)


@dataclass(frozen=True)
class Fact:
    """A property of each run: an outcome (decides whether they match) or context."""

    what: str
    a: str
    b: str

    @property
    def same(self) -> bool:
        return self.a == self.b


@dataclass(frozen=True)
class Figure:
    """A number of a bench result in A and in B."""

    what: str
    unit: str
    a: float | None
    b: float | None

    @property
    def ratio(self) -> float | None:
        if self.a is None or self.b is None or self.a == 0:
            return None
        return self.b / self.a


@dataclass
class Comparison:
    kind: str  # run | bench
    a_label: str
    b_label: str
    tests: list[TestRow] = field(default_factory=list)
    outcomes: list[Fact] = field(default_factory=list)  # decide the match
    context: list[Fact] = field(default_factory=list)  # shown, do not decide
    figures: list[Figure] = field(default_factory=list)

    def group(self, kind: str) -> list[TestRow]:
        return [t for t in self.tests if t.kind == kind]

    def counts(self) -> dict[str, int]:
        return {k: len(self.group(k)) for k in KINDS}

    def missing_figures(self) -> list[Figure]:
        return [f for f in self.figures if f.a is None or f.b is None]

    def matches(self) -> bool:
        """Every test has the same outcome on both sides, none is missing on either,
        the runs' own outcomes agree (and for bench: the same figures measured)."""
        return (
            all(t.kind == IDENTICAL for t in self.tests)
            and all(f.same for f in self.outcomes)
            and not self.missing_figures()
        )

    def differences(self) -> list[str]:
        """One line per kind of difference: what the verdict names."""
        out = [f"{n} {k}" for k, n in self.counts().items() if n and k != IDENTICAL]
        out += [f"{f.what}: {f.a} -> {f.b}" for f in self.outcomes if not f.same]
        missing = self.missing_figures()
        if missing:
            out.append(f"{len(missing)} figure(s) measured on one side only")
        return out


def _str(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _tests(data: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for t in data.get("tests", []):
        outcome = str(t.get("outcome", "?"))
        message = str(t.get("message") or "").strip().splitlines()
        out[str(t["name"])] = (OUTCOMES.get(outcome, outcome), message[0] if message else "")
    return out


def _splat_kinds(data: Mapping[str, Any]) -> str:
    kinds: dict[str, int] = {}
    for s in data.get("splats", []):
        kinds[str(s.get("kind", "?"))] = kinds.get(str(s.get("kind", "?")), 0) + 1
    return ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "none"


def _kernel(data: Mapping[str, Any], key: str) -> str:
    kernel = data.get("kernel") or {}
    return _str(kernel.get(key))


def _keyword(data: Mapping[str, Any]) -> str:
    """-k as recorded, else as on the recorded command line."""
    recorded = data.get("inputs") or {}
    if recorded:
        return _str(recorded.get("keyword"))
    return _str(keyword_from_command(str(data.get("command", ""))))


def _guest(data: Mapping[str, Any]) -> str:
    """The guest's userspace: a vm-images image id, the host's root, or "-" when the
    results do not record it."""
    recorded = data.get("inputs") or {}
    if not recorded:
        return "-"
    return _str(recorded.get("guest_image") or "host root")


def compare_runs(
    a: Mapping[str, Any], b: Mapping[str, Any], a_label: str, b_label: str
) -> Comparison:
    ta, tb = _tests(a), _tests(b)
    names = list(dict.fromkeys([*ta, *tb]))
    rows = [
        TestRow(
            n,
            ta[n][0] if n in ta else None,
            tb[n][0] if n in tb else None,
            tb[n][1] if n in tb and tb[n][0] != "pass" else "",
        )
        for n in names
    ]
    outcomes = [
        Fact("exit code", _str(a.get("exit_code")), _str(b.get("exit_code"))),
        Fact("kernel splats", _splat_kinds(a), _splat_kinds(b)),
    ]
    accel_a, accel_b = a.get("accel") or {}, b.get("accel") or {}
    context = [
        Fact("series", " + ".join(a.get("series", [])), " + ".join(b.get("series", []))),
        Fact("base", _kernel(a, "version"), _kernel(b, "version")),
        Fact("base commit", _kernel(a, "base_commit"), _kernel(b, "base_commit")),
        Fact("kernel commit", _kernel(a, "commit"), _kernel(b, "commit")),
        Fact("config hash", _str(a.get("config_hash")), _str(b.get("config_hash"))),
        Fact("accel", _str(accel_a.get("accel")), _str(accel_b.get("accel"))),
        Fact("guest", _guest(a), _guest(b)),
        Fact("-k", _keyword(a), _keyword(b)),
        Fact("verdict", _str(a.get("verdict")), _str(b.get("verdict"))),
    ]
    return Comparison("run", a_label, b_label, rows, outcomes, context)


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


BENCH_UNITS = {"icount": "insn/packet", "ns": "ns/packet"}


def bench_figures(data: Mapping[str, Any]) -> dict[str, tuple[str, float | None]]:
    """Every figure of a bench result: per clock, method and configuration the median,
    min and max per packet; per object of the size comparison its size before and
    after and the difference; how long the invocation took."""
    out: dict[str, tuple[str, float | None]] = {}
    for row in data.get("summary", []):
        clock = str(row.get("clock", "ns"))
        unit = BENCH_UNITS.get(clock, clock)
        key = f"{clock} {row.get('method')} {row.get('config')}"
        for stat in ("median", "min", "max"):
            out[f"{key} {stat}"] = (unit, _num(row.get(stat)))
    for item in data.get("bloat", []):
        sizes = item.get("bloat") or {}
        name = item.get("name")
        out[f"size {name} before"] = ("bytes", _num(sizes.get("before")))
        out[f"size {name} after"] = ("bytes", _num(sizes.get("after")))
        out[f"size {name} delta"] = ("bytes", _num(item.get("delta")))
    if _num(data.get("seconds")) is not None:
        out["invocation"] = ("s", _num(data.get("seconds")))
    return out


def compare_bench(
    a: Mapping[str, Any], b: Mapping[str, Any], a_label: str, b_label: str
) -> Comparison:
    fa, fb = bench_figures(a), bench_figures(b)
    figures = [
        Figure(
            k,
            (fa.get(k) or fb[k])[0],
            fa[k][1] if k in fa else None,
            fb[k][1] if k in fb else None,
        )
        for k in dict.fromkeys([*fa, *fb])
    ]
    outcomes = [
        Fact("exit code", _str(a.get("exit_code")), _str(b.get("exit_code"))),
        Fact("verdict", _str(a.get("verdict")), _str(b.get("verdict"))),
    ]
    params_a, params_b = a.get("params") or {}, b.get("params") or {}
    context = [
        Fact("series", " + ".join(a.get("series", [])), " + ".join(b.get("series", []))),
        Fact("against", " + ".join(a.get("against", [])), " + ".join(b.get("against", []))),
        Fact("runs", _str(params_a.get("runs")), _str(params_b.get("runs"))),
        Fact("clocks", _str(params_a.get("clocks")), _str(params_b.get("clocks"))),
        Fact("qemu", _str(a.get("qemu")), _str(b.get("qemu"))),
        Fact("problems", str(len(a.get("problems", []))), str(len(b.get("problems", [])))),
    ]
    return Comparison("bench", a_label, b_label, [], outcomes, context, figures)


def compare(a: Mapping[str, Any], b: Mapping[str, Any], a_label: str, b_label: str) -> Comparison:
    """A and B, both runs or both bench results (else UsageError)."""
    ka, kb = results_kind(a, a_label), results_kind(b, b_label)
    if ka != kb:
        raise UsageError(
            f"cannot compare a {ka} result ({a_label}) with a {kb} result ({b_label})",
            "compare two `harness run` results, or two `harness bench` results",
        )
    if ka == "bench":
        return compare_bench(a, b, a_label, b_label)
    return compare_runs(a, b, a_label, b_label)
