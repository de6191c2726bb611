"""The command line of the in-guest runner (harness.guest) for a run's tests, with
every host path on it as the guest sees it (guest_image.GuestView)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.guest_image import GuestView


@dataclass(frozen=True)
class GuestRunner:
    """What every guest of a run is handed: the BPF objects, the kernel tree, the
    tools built from it, and the pytest arguments (-k and the rest)."""

    objdir: Path
    worktree: Path
    tools: Mapping[str, Path]
    pytest_args: tuple[str, ...] = ()
    keyword: str | None = None

    def command(
        self,
        view: GuestView,
        results: Path,
        suites: Iterable[str] = (),
        ksft_names: Iterable[str] = (),
        units: Path | None = None,
    ) -> list[str]:
        """Run ``suites``, the kselftests ``ksft_names`` and the tests listed in the
        ``units`` file, writing into ``results``."""
        cmd = [
            view.python,
            "-m",
            "harness.guest",
            "--results",
            view.path(results),
            "--bpf-objdir",
            view.path(self.objdir),
            "--kernel-tree",
            view.path(self.worktree),
        ]
        for suite in suites:
            cmd += ["--suite", suite]
        if units is not None:
            cmd += ["--units", view.path(units)]
        for name, path in self.tools.items():
            cmd += ["--tool", f"{name}={view.path(path)}"]
        for name in ksft_names:
            cmd += ["--kselftest", name]
        extra = list(self.pytest_args)
        if self.keyword:
            extra += ["-k", self.keyword]
        if extra:
            cmd += ["--", *extra]
        return cmd
