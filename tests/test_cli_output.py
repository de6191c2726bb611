"""`harness --version`, and what goes where: results on stdout, progress and warnings on
stderr (`harness run ... > summary.txt` keeps only the summary)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from helpers import KERNEL_MAKEFILE, init_repo, make_series

import harness
from harness.build import STAMP
from harness.cli import main
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.source import source_id_for

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"harness {harness.__version__}\n"


def test_version_is_the_packages() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert harness.__version__ == project["version"]


def test_progress_and_warnings_on_stderr_summary_on_stdout(
    harness_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    tree = tmp_path / "linux"
    init_repo(tree, {"Makefile": KERNEL_MAKEFILE})
    (tree / "Makefile").write_text(KERNEL_MAKEFILE + "# edited\n")  # uncommitted: a warning
    opts = Options(
        command="test", series=["baseline"], kernel_tree=tree, results_root=tmp_path / "res"
    )
    cache = CacheLayout(tmp_path / "cache")
    p = Pipeline(opts, harness_repo, cache, host_check=lambda s: None)
    # a kernel "built" (no worktree though): the source stage runs, then the run stops
    key = f"{source_id_for(tree)}/{p.key}"
    (cache.build(key) / "arch/x86/boot").mkdir(parents=True)
    (cache.build(key) / "arch/x86/boot/bzImage").write_bytes(b"kernel")
    (cache.build(key) / STAMP).write_text("{}")
    assert p.execute() != 0
    out, err = capsys.readouterr()
    assert out == "\n" + (p.results / "summary.txt").read_text()
    assert err.startswith(f"harness test: baseline -> {p.results}\n==> source\n")
    assert "warning: " in err and "has uncommitted changes" in err
    assert "    base 6.12.117 from git tree" in err
