"""Made-up results.json contents for the comparison, reproduce and bundle tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASE_COMMIT = "607e615b78dc47c7ac79797e037503ae1e4f45f4"


def run_results(
    tests: dict[str, str],
    *,
    exit_code: int = 0,
    splats: tuple[str, ...] = (),
    series: tuple[str, ...] = ("baseline",),
    inputs: dict[str, Any] | None = None,
    command: str = "harness run --series baseline",
    base_commit: str = BASE_COMMIT,
) -> dict[str, Any]:
    """A `harness run` results.json: tests by node id -> passed | failed | skipped | error."""
    data: dict[str, Any] = {
        "run_id": "20261203-120000-baseline",
        "command": command,
        "series": list(series),
        "suites": ["baseline"],
        "kernel": {
            "version": "6.12.118",
            "origin": "Debian linux-source-6.12 6.12.118-1~deb12u1",
            "base_commit": base_commit,
            "source_id": "debian",
            "commit": "93e1bae3796865fcaea2d656af678c477cfa72fe",
        },
        "config_hash": "106e3db1253dc7ef",
        "accel": {"accel": "tcg", "reason": "KVM probe failed"},
        "timings": {"vm": 10.0},
        "tests": [
            {
                "name": name,
                "outcome": outcome,
                "duration": 0.5,
                "message": "" if outcome == "passed" else f"{outcome}: why\nmore",
            }
            for name, outcome in tests.items()
        ],
        "splats": [
            {"kind": k, "console_line": 1, "summary": f"{k} at console line 1", "text": k}
            for k in splats
        ],
        "exit_code": exit_code,
        "verdict": "PASS" if exit_code == 0 else "FAIL",
        "error": "",
    }
    if inputs is not None:
        data["inputs"] = inputs
    return data


def bench_results(medians: dict[str, float], vmlinux_after: int = 1100) -> dict[str, Any]:
    """A `harness bench` results.json: per "method config" its median (min/max around it)."""
    summary = []
    for key, median in medians.items():
        method, config = key.split()
        summary.append(
            {
                "clock": "icount",
                "method": method,
                "config": config,
                "runs": 3,
                "min": median - 1,
                "median": median,
                "max": median + 1,
            }
        )
    return {
        "command": "harness bench --series xdp-stats",
        "series": ["xdp-stats"],
        "against": ["baseline"],
        "params": {"runs": 3, "clocks": ["icount"]},
        "qemu": "7.2.22",
        "summary": summary,
        "deltas": [],
        "bloat": [
            {
                "name": "vmlinux",
                "objects": ["vmlinux"],
                "bloat": {"before": 1000, "after": vmlinux_after},
                "delta": vmlinux_after - 1000,
            }
        ],
        "samples": [],
        "seconds": 100.0,
        "problems": [],
        "exit_code": 0,
        "verdict": "OK",
    }


def write_results(d: Path, data: dict[str, Any], files: dict[str, str] | None = None) -> Path:
    """A results directory d with results.json and other files."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "results.json").write_text(json.dumps(data, indent=2))
    for name, text in (files or {}).items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    return d
