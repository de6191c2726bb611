"""series.toml ``[vm]``: the guest a series asks for, checked, combined over a stack,
and what `harness run` hands vng."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_manifest

from harness import vm
from harness.errors import UsageError
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.series import VmShape, load_series, stack_vm_shape


def _series(repo: Path, name: str, vm_table: str, depends: str = "") -> Path:
    deps = f'depends-on = ["{depends}"]\n' if depends else ""
    return write_manifest(repo, name, f'name = "{name}"\n{deps}[vm]\n{vm_table}')


def test_vm_table_parsed(harness_repo: Path) -> None:
    d = _series(harness_repo, "a", 'cpus = 4\nmemory = "3G"\nappend = ["page_pool.x=1"]\n')
    shape = load_series(d, harness_repo).vm
    assert shape == VmShape(4, 3072, ("page_pool.x=1",))
    assert shape.memory == "3072M"


def test_no_vm_table_is_the_default(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "bare", 'name = "bare"\n')
    assert load_series(d, harness_repo).vm == VmShape()
    assert VmShape().memory is None


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("cpus = 0\n", "cpus must be 1 to 8"),
        ("cpus = true\n", "cpus must be 1 to 8"),
        ("cpus = 2.5\n", "cpus must be 1 to 8"),
        ('memory = "2GB"\n', 'memory must be like "2048M" or "3G"'),
        ("memory = 2048\n", 'memory must be like "2048M" or "3G"'),
        ('memory = "0M"\n', 'memory must be like "2048M" or "3G"'),
        ('append = ["a=1 b=2"]\n', "single kernel parameters"),
        ('append = "a=1"\n', "'append' must be a list of strings"),
        ("disk = 1\n", "unknown keys ['disk'] in [vm]"),
    ],
)
def test_bad_vm_table_names_the_file_and_key(harness_repo: Path, table: str, says: str) -> None:
    d = _series(harness_repo, "bad", table)
    with pytest.raises(UsageError) as info:
        load_series(d, harness_repo)
    assert says in str(info.value)
    assert str(d / "series.toml") in str(info.value)


def test_vm_must_be_a_table(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "bad", 'name = "bad"\nvm = 3\n')
    with pytest.raises(UsageError, match="'vm' must be a table"):
        load_series(d, harness_repo)


def test_a_stack_takes_the_largest_and_every_parameter(harness_repo: Path) -> None:
    a = load_series(_series(harness_repo, "a", 'cpus = 3\nappend = ["x=1"]\n'), harness_repo)
    b = load_series(_series(harness_repo, "b", 'cpus = 1\nmemory = "4G"\n'), harness_repo)
    c = load_series(_series(harness_repo, "c", 'memory = "512M"\nappend = ["y"]\n'), harness_repo)
    assert stack_vm_shape([a, b, c]) == VmShape(3, 4096, ("x=1", "y"))
    assert stack_vm_shape([]) == VmShape()


def test_the_guest_gets_the_stacks_shape(harness_repo: Path, tmp_path: Path) -> None:
    _series(harness_repo, "baseline", "")
    _series(harness_repo, "big", 'cpus = 3\nmemory = "3G"\nappend = ["nokaslr"]\n', "baseline")
    opts = Options(command="run", series=["big"], results_root=tmp_path / "r")
    p = Pipeline(opts, harness_repo, CacheLayout(tmp_path / "c"), host_check=lambda s: None)
    spec = p.vm_spec(Path("/bz"), "tcg", p.guest_view(tmp_path))
    cmd = vm.vng_command(spec, "true")
    assert cmd[cmd.index("--cpus") + 1] == "3"
    assert cmd[cmd.index("--memory") + 1] == "3072M"
    assert [a for i, a in enumerate(cmd) if a == "--append" or cmd[i - 1] == "--append"] == [
        "--append",
        "printk.time=1",
        "--append",
        "nokaslr",
    ]
    base = Pipeline(
        Options(command="run", series=["baseline"], results_root=tmp_path / "r"),
        harness_repo,
        CacheLayout(tmp_path / "c"),
        host_check=lambda s: None,
    )
    plain = base.vm_spec(Path("/bz"), "tcg", base.guest_view(None))
    assert (plain.cpus, plain.memory, plain.append) == (2, "2G", ("printk.time=1",))
