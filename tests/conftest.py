"""Fixtures: hermetic git and environment, a throwaway harness repository."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration, and no harness settings, leak into the tests."""
    cfg = tmp_path_factory.mktemp("gitconfig") / "config"
    cfg.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("HARNESS_REPO", raising=False)
    monkeypatch.delenv("HARNESS_CACHE", raising=False)
    # nor a default guest image ($XDP_HARNESS_IMAGE, ~/.config/xdp-harness/config.toml)
    monkeypatch.delenv("XDP_HARNESS_IMAGE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture
def harness_repo(tmp_path: Path) -> Path:
    """An empty harness checkout: patches/, kernel-config/base.config, selftests/."""
    repo = tmp_path / "repo"
    (repo / "patches").mkdir(parents=True)
    (repo / "kernel-config").mkdir()
    (repo / "kernel-config" / "base.config").write_text("CONFIG_NET=y\n")
    (repo / "selftests").mkdir()
    return repo
