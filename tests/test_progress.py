"""StepProgress off a terminal: one line per 10%, and the total grows if exceeded."""

from __future__ import annotations

import pytest

from harness.progress import StepProgress


def test_ten_percent_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with StepProgress("build", 20, estimated=True) as bar:
        for i in range(20):
            bar.step(f"CC kernel/f{i}.o")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "build: ~20 steps (estimated)"
    pcts = [int(ln.split(":")[1].split("%")[0]) for ln in lines[1:]]
    assert pcts == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert "(2/20)" in lines[1]


def test_more_steps_than_estimated(capsys: pytest.CaptureFixture[str]) -> None:
    with StepProgress("build", 2, estimated=False) as bar:
        for _ in range(5):
            bar.step("CC x.o")
        assert bar.total == 5
    out = capsys.readouterr().err
    assert out.splitlines()[0] == "build: ~2 steps"
    assert "100%" not in out
