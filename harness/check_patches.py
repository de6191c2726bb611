"""`harness check-patches`: the last series of a stack applied one patch at a time,
each built on its own and run through checkpatch --strict, in a stack directory of its
own (<key>.each-patch) so that stepping through the patches does not disturb the tree
and kernel that `run` and `test` use."""

from __future__ import annotations

import dataclasses
import json
import time

from harness import apply, build, patchcheck, ui
from harness.errors import BrokenBuild, ExitCode, HarnessError
from harness.pipeline import Pipeline
from harness.ui import progress


def check_patches(p: Pipeline) -> ExitCode:
    """Apply the last series of the stack one patch at a time; build and checkpatch each.

    Exit 1 when checkpatch --strict finds something, 2 when a patch does not build
    (BrokenBuild, as in `run`: the series' fault), 3 for the infrastructure."""
    p.open_results()
    target = p.stack[-1]
    progress(f"harness check-patches: {target.name} ({len(target.patches)} patches) -> {p.results}")
    results: list[patchcheck.PatchResult] = []
    code = ExitCode.OK
    try:
        p.check_host()
        with p.stage("source"):
            src = p.source_stage()
        # A stack of its own: stepping through the patches must not disturb the
        # tree and kernel that run/test use (ccache makes the first build cheap).
        key = p.stack_key_for(src.source_id) + ".each-patch"
        p.lock_stack(key)
        build_dir = p.cache.build(key)
        for i, patch in enumerate(target.patches, 1):
            stack = [*p.stack[:-1], patchcheck.truncated(target, i)]
            subject = target.patch_subject(patch)
            progress(f"==> {i:04d} {subject}")
            wt = apply.prepare_worktree(src, stack, key, p.cache, p.runner)
            cfg = build.configure(wt.path, build_dir, p.fragments(), p.runner, head=wt.head)
            start = time.monotonic()
            broken: BrokenBuild | None = None
            try:
                build.build(
                    wt.path,
                    build_dir,
                    wt.head,
                    cfg,
                    p.cache,
                    p.runner,
                    p.results / f"build-{i:04d}.log",
                )
            except BrokenBuild as exc:
                broken = exc
            seconds = time.monotonic() - start
            cp = patchcheck.checkpatch(wt.path, patch, p.runner)
            error = str(broken) if broken else ""
            res = patchcheck.PatchResult(i, patch.name, subject, not error, seconds, error, cp)
            results.append(res)
            ui.result(res.line())
            if cp.report:
                ui.result("    " + cp.report.replace("\n", "\n    "))
            if broken:
                code = broken.exit_code
                ui.result("    " + error.replace("\n", "\n    "))
                break
            if cp.errors or cp.warnings:
                code = ExitCode.FAILED
    except HarnessError as exc:
        code = exc.exit_code
        progress(f"error: {exc}")
    except Exception as exc:
        code = ExitCode.INFRA
        progress(f"error: {p.unexpected(exc)}")
    except KeyboardInterrupt:
        code = ExitCode.INFRA
        progress("interrupted")
    finally:
        p.close()
        p.runner.log.write(p.results / "commands.sh")
        (p.results / "patches.json").write_text(
            json.dumps([dataclasses.asdict(r) for r in results], indent=2)
        )
    built = sum(r.built for r in results)
    ui.result(
        f"\n{target.name}: {built}/{len(target.patches)} patches built on their own; "
        f"checkpatch --strict: {sum(r.checkpatch.clean for r in results)} clean"
    )
    ui.result(("PASS" if code == ExitCode.OK else "FAIL") + f" (exit {int(code)})")
    return code
