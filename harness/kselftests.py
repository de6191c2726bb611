"""The kernel tree's own kselftests a series lists: tools/testing/selftests/<collection>/<test>.

series.toml names them as ``run_kselftest.sh -t`` does, ``collection:test``:
``kselftests = ["net:nl_netdev.py", "drivers/net:queues.py"]``. They run in the guest
from the source tree of the stack's kernel (harness.kselftest_plugin), each with a
timeout; every KTAP result a test prints becomes a test of its own.

Only tests that need nothing built run: Python tests (run with the harness's own
interpreter: net/lib/py and the tree's ynl need PyYAML, a dependency of the harness)
and scripts with a ``#!`` line (run with that interpreter). A C test would need the
selftests built for the guest: not supported.

Shared by the host (manifest names, the check that each test is in the tree) and the
guest (how to run one, what its exit status says): standard library only.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import ktap
from harness.errors import UsageError

SELFTESTS = "tools/testing/selftests"
EXAMPLE = 'kselftests = ["net:nl_netdev.py"] runs tools/testing/selftests/net/nl_netdev.py'
# kselftest's per-test timeout when the collection's "settings" file sets none
KSELFTEST_TIMEOUT = 45
# at least this long: the timeouts upstream sets are for real hardware, not TCG; at
# most MAX_TIMEOUT, so that a hung test is killed before the VM's whole run is (the
# results of the others kept): what selftests/baseline/test_bpf_selftests.py allows
MIN_TIMEOUT = 600
MAX_TIMEOUT = 900
# kselftest exit statuses (kselftest.h)
KSFT_PASS, KSFT_FAIL, KSFT_XFAIL, KSFT_XPASS, KSFT_SKIP = 0, 1, 2, 3, 4

_PART_RE = re.compile(r"^[A-Za-z0-9_+.-]+$")


@dataclass(frozen=True, order=True)
class Kselftest:
    collection: str  # a directory under tools/testing/selftests: net, drivers/net
    test: str  # a file in it: nl_netdev.py

    @property
    def name(self) -> str:
        """collection:test, as series.toml and run_kselftest.sh -t name it."""
        return f"{self.collection}:{self.test}"

    @property
    def test_id(self) -> str:
        """Its name in the results: kselftest/<collection>/<test>."""
        return f"kselftest/{self.collection}/{self.test}"

    def path(self, tree: Path) -> Path:
        return tree / SELFTESTS / self.collection / self.test


def parse_name(text: str) -> Kselftest:
    """collection:test; ValueError saying what is wrong with it."""
    collection, sep, test = text.partition(":")
    if not sep:
        raise ValueError("no ':' between collection and test")
    parts = collection.split("/")
    if not all(_PART_RE.match(p) and p not in (".", "..") for p in parts):
        raise ValueError(
            f"the collection {collection!r} is not a directory path under {SELFTESTS} "
            "(e.g. net, drivers/net: no '..', no leading or trailing '/')"
        )
    if not _PART_RE.match(test) or test in (".", ".."):
        raise ValueError(f"the test {test!r} is not a file name (no '/', no ':')")
    return Kselftest(collection, test)


def from_manifest(names: Sequence[str], manifest: Path) -> tuple[Kselftest, ...]:
    """The kselftests entries of a series.toml; a bad or repeated one is a UsageError
    naming the manifest and the entry."""
    tests = []
    for name in names:
        try:
            tests.append(parse_name(name))
        except ValueError as exc:
            raise UsageError(
                f"{manifest}: kselftests entry {name!r} is not collection:test: {exc}",
                f"name a file under {SELFTESTS}/ as run_kselftest.sh -t does: {EXAMPLE}",
            ) from exc
    dups = sorted({t.name for t in tests if tests.count(t) > 1})
    if dups:
        raise UsageError(f"{manifest}: kselftests lists {dups} more than once")
    return tuple(tests)


def command(path: Path, python: str) -> list[str]:
    """How to run a test file: a .py with ``python``; a script with its #! line.
    ValueError when it is neither (a C test's binary, a file that is not a test)."""
    if path.suffix == ".py":
        return [python, str(path)]
    with path.open("rb") as f:
        first = f.readline(512)
    if first.startswith(b"#!"):
        interpreter = shlex.split(first[2:].decode(errors="replace"))
        if interpreter:
            return [*interpreter, str(path)]
    raise ValueError(
        "neither a .py file nor a script with a #! line: only tests that run from the "
        "source tree without a build are supported (not C tests)"
    )


def check_in_tree(tests: Sequence[tuple[Kselftest, str]], tree: Path) -> None:
    """Each (test, the series listing it) is a runnable file of the tree: else a
    UsageError naming the test, its series and the path looked at."""
    for test, series in tests:
        path = test.path(tree)
        where = f"kselftest {test.name} (series {series}): {path}"
        if not path.is_file():
            raise UsageError(
                f"{where} is not in the kernel tree",
                f"correct kselftests in patches/{series}/series.toml ({EXAMPLE}); "
                f"ls {tree / SELFTESTS / test.collection} shows what the tree has",
            )
        try:
            command(path, "python3")
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}", "list only Python tests and scripts") from exc


def timeout(collection_dir: Path) -> float:
    """Seconds a test may run: the collection's ``settings`` timeout (kselftest's 45 s
    without one), within MIN_TIMEOUT and MAX_TIMEOUT."""
    seconds = KSELFTEST_TIMEOUT
    try:
        text = (collection_dir / "settings").read_text()
    except OSError:
        text = ""
    m = re.search(r"^timeout=(\d+)\s*$", text, re.M)
    if m:
        seconds = int(m[1])
    return float(min(max(seconds, MIN_TIMEOUT), MAX_TIMEOUT))


def process_problem(out: ktap.Output, returncode: int | None, timeout_s: float) -> str | None:
    """What is wrong with a test's run as a whole, beyond its KTAP results (each
    reported on its own): None when nothing is. ``returncode`` None: killed at the
    timeout; negative: killed by a signal."""
    if returncode is None:
        return f"killed after the timeout of {timeout_s:.0f}s"
    if returncode < 0:
        return f"killed by signal {-returncode}"
    if out.bail_out is not None:
        return f"Bail out! {out.bail_out}"
    results = out.results
    if not results:
        if returncode in (KSFT_PASS, KSFT_SKIP):
            return None  # no KTAP: the exit status is the result (see no_ktap_skip)
        what = "KTAP without results" if out.seen else "no KTAP output"
        return f"exited {returncode} with {what}"
    found = [*out.problems]
    top = out.top_level()
    if out.plan is not None and len(top) != out.plan:
        found.append(f"planned {out.plan} results, reported {len(top)} (did it crash?)")
    outcomes = {r.outcome for r in results}
    explained = {
        KSFT_PASS: True,
        KSFT_FAIL: "failed" in outcomes,
        KSFT_XFAIL: "xfail" in outcomes,
        KSFT_SKIP: "skipped" in outcomes,
    }
    if not explained.get(returncode, False):
        found.append(f"exited {returncode}, which its KTAP results do not explain")
    return "; ".join(found) or None


def no_ktap_skip(out: ktap.Output, returncode: int | None) -> bool:
    """A test without KTAP results that exited KSFT_SKIP: the whole test is a skip."""
    return not out.results and returncode == KSFT_SKIP
