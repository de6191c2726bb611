"""Open a run's results as `compare` and `reproduce` take them: a results directory,
its results.json, or a bundle (unpacked into a temporary directory, removed after)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import bundle
from harness.compare import results_kind
from harness.errors import UsageError

FIX = (
    "give a results directory (results/<run-id>), its results.json, or a bundle "
    "(results-<run-id>.tar.zst from `harness run --bundle`)"
)


@dataclass(frozen=True)
class LoadedResults:
    given: Path  # what was asked for
    directory: Path  # the results directory (in a temporary one for a bundle)
    data: dict[str, Any]  # results.json
    kind: str  # run | bench
    beside: Path  # where a file "next to" these results goes

    @property
    def label(self) -> str:
        return str(self.given)


def read_json(path: Path) -> dict[str, Any]:
    """results.json parsed; unreadable or not JSON: UsageError naming the file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", FIX) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            "a run that was killed may have left it unfinished; " + FIX,
        ) from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a harness results.json (not a JSON object)", FIX)
    return data


def _load(given: Path, directory: Path, beside: Path) -> LoadedResults:
    path = directory / "results.json"
    data = read_json(path)
    return LoadedResults(given, directory, data, results_kind(data, str(path)), beside)


@contextmanager
def open_results(given: Path) -> Iterator[LoadedResults]:
    if not given.exists():
        raise UsageError(f"{given}: no such file or directory", FIX)
    if given.is_dir():
        if not (given / "results.json").is_file():
            raise UsageError(f"{given} is not a results directory: no results.json in it", FIX)
        yield _load(given, given, given)
    elif given.name.endswith(".json"):
        yield _load(given, given.parent, given.parent)
    elif bundle.is_bundle(given):
        with tempfile.TemporaryDirectory(prefix="harness-bundle-") as tmp:
            results = bundle.extract(given, Path(tmp))
            yield _load(given, results, given.parent)
    else:
        raise UsageError(f"{given} is neither a results directory, a .json nor a bundle", FIX)
