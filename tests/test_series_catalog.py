"""One bad series.toml breaks only the commands that need that series, and is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_series, patch_text

from harness.cli import main
from harness.errors import UsageError
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.series import Catalog, resolve


@pytest.fixture
def repo(harness_repo: Path) -> Path:
    """baseline and xdp-meta are fine; broken's manifest is not valid TOML; needs-broken
    depends on it."""
    make_series(harness_repo, "baseline", selftests=("baseline",))
    make_series(harness_repo, "xdp-meta", depends_on=("baseline",))
    d = make_series(harness_repo, "broken")
    (d / "series.toml").write_text('name = "broken"\nconfig = [\n')
    make_series(harness_repo, "needs-broken", depends_on=("broken",))
    return harness_repo


def test_catalog_reads_only_what_is_asked_for(repo: Path) -> None:
    catalog = Catalog(repo)
    assert list(catalog) == ["baseline", "broken", "needs-broken", "xdp-meta"]
    assert "broken" in catalog
    assert "nope" not in catalog
    assert [s.name for s in resolve(["xdp-meta"], catalog)] == ["baseline", "xdp-meta"]


@pytest.mark.parametrize("wanted", ["broken", "needs-broken"])
def test_the_bad_manifest_is_named_when_it_is_needed(repo: Path, wanted: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve([wanted], Catalog(repo))
    assert info.value.problem.startswith(f"{repo / 'patches/broken/series.toml'}: not valid TOML")


def test_other_series_still_run(repo: Path, tmp_path: Path) -> None:
    opts = Options(command="run", series=["xdp-meta"], results_root=tmp_path / "res")
    p = Pipeline(opts, repo, CacheLayout(tmp_path / "cache"))
    assert [s.name for s in p.stack] == ["baseline", "xdp-meta"]


def test_all_series_needs_every_manifest(repo: Path, tmp_path: Path) -> None:
    opts = Options(command="run", all_series=True, results_root=tmp_path / "res")
    with pytest.raises(UsageError, match=r"patches/broken/series\.toml"):
        Pipeline(opts, repo, CacheLayout(tmp_path / "cache"))


@pytest.fixture
def cli_repo(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_REPO", str(repo))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    return repo


def test_cli_unknown_series_is_still_reported_as_unknown(
    cli_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--series", "xdp-mta"]) == 2
    err = capsys.readouterr().err
    assert "unknown series 'xdp-mta'" in err
    assert "known series: baseline, broken, needs-broken, xdp-meta" in err


def test_list_shows_the_good_series_and_names_the_bad_one(
    cli_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cli_repo / "patches/xdp-meta/0001-x.patch").write_text(patch_text("[PATCH] xdp: x"))
    assert main(["list"]) == 2
    out, err = capsys.readouterr()
    assert "baseline: series baseline" in out
    assert "xdp-meta: series xdp-meta" in out
    assert "  0001-x.patch: xdp: x" in out
    assert "needs-broken: series needs-broken" in out
    assert err.startswith(f"error: {cli_repo / 'patches/broken/series.toml'}: not valid TOML")
