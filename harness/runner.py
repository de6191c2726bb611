"""Run external commands, and keep the exact commands of a run for reproducing it."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.errors import InfraError


class CommandLog:
    """Every external command a run executes, as a replayable shell script."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def record(
        self, cmd: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        parts = []
        if cwd is not None:
            parts.append(f"cd {shlex.quote(str(cwd))} &&")
        if env:
            parts.extend(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
        parts.append(shlex.join(cmd))
        line = " ".join(parts)
        self.lines.append(line)
        return line

    def write(self, path: Path) -> None:
        header = "#!/bin/sh\n# The exact commands this run executed, in order.\nset -e\n"
        path.write_text(header + "\n".join(self.lines) + "\n")


class Runner:
    """subprocess with the command log attached; errors name the command."""

    def __init__(self, log: CommandLog | None = None) -> None:
        self.log = log or CommandLog()

    def run(
        self,
        cmd: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        capture: bool = True,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        self.log.record(cmd, cwd, env)
        full_env = {**os.environ, **env} if env else None
        try:
            proc = subprocess.run(
                list(cmd),
                cwd=cwd,
                env=full_env,
                text=True,
                capture_output=capture,
                input=input_text,
                check=False,
            )
        except FileNotFoundError as exc:
            raise InfraError(f"command not found: {cmd[0]}", "run ci/setup-host.sh") from exc
        if check and proc.returncode != 0:
            out = ((proc.stderr or "") + (proc.stdout or "")).strip()
            tail = "\n".join(out.splitlines()[-20:])
            raise InfraError(f"command failed ({proc.returncode}): {shlex.join(cmd)}\n{tail}")
        return proc

    def git(
        self, repo: Path, *args: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> str:
        return self.run(["git", "-C", str(repo), *args], check=check, env=env).stdout.strip()
