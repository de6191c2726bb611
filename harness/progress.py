"""Progress for long stages (on stderr): a bar on a terminal, a line per 10% in CI logs."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from harness.ui import progress


class StepProgress:
    def __init__(self, label: str, total: int, estimated: bool) -> None:
        self.label = label
        self.total = max(total, 1)
        self.estimated = estimated
        self.done = 0
        self.start = time.monotonic()
        self._next_pct = 10
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> StepProgress:
        if sys.stderr.isatty():
            self._bar = Progress(
                TextColumn(f"[bold]{self.label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[what]}", style="dim"),
                TimeElapsedColumn(),
                transient=False,
                console=Console(stderr=True),
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, what="")
        else:
            est = " (estimated)" if self.estimated else ""
            progress(f"{self.label}: ~{self.total} steps{est}")
        return self

    def step(self, what: str) -> None:
        self.done += 1
        self.total = max(self.total, self.done)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done, total=self.total, what=what[-48:])
            return
        pct = 100 * self.done // self.total
        if pct >= self._next_pct and pct < 100:
            elapsed = time.monotonic() - self.start
            progress(f"{self.label}: {pct:3d}% ({self.done}/{self.total}) {elapsed:6.0f}s")
            self._next_pct = pct - pct % 10 + 10

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.total if exc is None else self.done)
            self._bar.stop()
