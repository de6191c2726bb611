"""`harness shell`: an interactive guest on a series' kernel, prepared as a run
prepares it (import, apply, build, the suites' BPF objects), with the command that
runs the suites in it shown."""

from __future__ import annotations

from harness import bpfprogs, vm
from harness.pipeline import Pipeline
from harness.ui import progress


def open_shell(p: Pipeline) -> int:
    """The guest's exit status."""
    p.open_results()
    p.check_host()
    kernel = p.prepare_kernel()
    plan = p.vm_plan(kernel.build_dir)
    objdir = p.cache.bpf(p.work_key)
    bpfprogs.compile_suites(p.repo, p.suites, kernel.worktree, objdir, p.runner)
    suites = " ".join(f"selftests/{s}" for s in p.suites)
    view = p.guest_view(None)
    progress(
        f"    in the guest: XDP_SELFTEST_BPF_OBJDIR={view.path(objdir)} "
        f"XDP_SELFTEST_KERNEL_TREE={view.path(kernel.worktree)} {view.python} -m pytest -v "
        f"{suites}"
    )
    spec = p.vm_spec(plan.bzimage, plan.accel, view)
    p.stack_lock_to_children()  # vng and QEMU under it hold the stack while the guest runs
    return vm.interactive(vm.vng_command(spec))
