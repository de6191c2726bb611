"""vng_command: the flags the harness boots with."""

from __future__ import annotations

from pathlib import Path

from harness.vm import Mount, VmSpec, vng_command

BZ = Path("/cache/build/xdp/arch/x86/boot/bzImage")


def _pairs(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == flag]


def test_kvm_defaults() -> None:
    cmd = vng_command(VmSpec(bzimage=BZ, accel="kvm"))
    assert cmd[:3] == ["vng", "--run", str(BZ)]
    assert "--disable-kvm" not in cmd
    assert "--verbose" in cmd
    assert "--force-9p" in cmd
    assert "--disable-microvm" in cmd
    assert _pairs(cmd, "--network") == ["loop"]
    assert _pairs(cmd, "--cpus") == ["2"]
    assert _pairs(cmd, "--memory") == ["2G"]
    assert _pairs(cmd, "--append") == ["printk.time=1"]
    assert "--exec" not in cmd
    assert "--rwdir" not in cmd
    assert "--cwd" not in cmd


def test_tcg_disables_kvm() -> None:
    cmd = vng_command(VmSpec(bzimage=BZ, accel="tcg"))
    assert cmd.count("--disable-kvm") == 1


def test_tcg_runs_every_vcpu_in_one_host_thread() -> None:
    # One argument, so that vng's parser does not take "-accel" for an option.
    assert "--qemu-opts=-accel tcg,thread=single" in vng_command(VmSpec(bzimage=BZ, accel="tcg"))
    assert not any(
        a.startswith("--qemu-opts") for a in vng_command(VmSpec(bzimage=BZ, accel="kvm"))
    )


def test_rwdirs_cwd_exec_and_no_network() -> None:
    spec = VmSpec(
        bzimage=BZ,
        accel="kvm",
        cpus=1,
        memory="1G",
        mounts=(
            Mount(Path("/results/r1"), "/results/r1", True),
            Mount(Path("/tmp/x"), "/tmp/x", True),
        ),
        cwd=Path("/work/main"),
        network_loop=False,
        append=("printk.time=1", "panic=-1"),
    )
    cmd = vng_command(spec, "python3 -m harness.guest --suite baseline")
    assert "--network" not in cmd
    assert _pairs(cmd, "--rwdir") == ["/results/r1", "/tmp/x"]
    assert _pairs(cmd, "--cwd") == ["/work/main"]
    assert _pairs(cmd, "--cpus") == ["1"]
    assert _pairs(cmd, "--memory") == ["1G"]
    assert _pairs(cmd, "--append") == ["printk.time=1", "panic=-1"]
    assert cmd[-2:] == ["--exec", "python3 -m harness.guest --suite baseline"]


def test_image_root_and_guest_host_mount_pairs() -> None:
    spec = VmSpec(
        bzimage=BZ,
        accel="tcg",
        root=Path("/img"),
        mounts=(
            Mount(Path("/work/main"), "/opt/xdp-harness/repo", False),
            Mount(Path("/res/r1"), "/opt/xdp-harness/results", True),
        ),
        cwd=Path("/img/opt/xdp-harness/repo"),
    )
    cmd = vng_command(spec)
    assert _pairs(cmd, "--root") == ["/img"]
    assert _pairs(cmd, "--rodir") == ["/opt/xdp-harness/repo=/work/main"]
    assert _pairs(cmd, "--rwdir") == ["/opt/xdp-harness/results=/res/r1"]
    assert _pairs(cmd, "--cwd") == ["/img/opt/xdp-harness/repo"]


def test_host_root_has_no_root_option() -> None:
    assert "--root" not in vng_command(VmSpec(bzimage=BZ, accel="tcg"))


def test_extra_qemu_options_one_argument_each() -> None:
    spec = VmSpec(bzimage=BZ, accel="tcg", qemu_opts=("-icount shift=0,sleep=off",))
    cmd = vng_command(spec)
    opts = [a for a in cmd if a.startswith("--qemu-opts")]
    assert opts == ["--qemu-opts=-accel tcg,thread=single", "--qemu-opts=-icount shift=0,sleep=off"]
