"""kselftests in series.toml: names, the stack's union, the tree check, how one runs,
what its exit status says."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_manifest

from harness import kselftests, ktap
from harness.errors import ExitCode, UsageError
from harness.kselftests import Kselftest
from harness.series import kselftests as stack_kselftests
from harness.series import load_series


def test_read_from_the_manifest(harness_repo: Path) -> None:
    d = write_manifest(
        harness_repo, "s", 'name = "s"\nkselftests = ["net:nl_netdev.py", "drivers/net:ping.py"]\n'
    )
    s = load_series(d, harness_repo)
    assert s.kselftests == (Kselftest("net", "nl_netdev.py"), Kselftest("drivers/net", "ping.py"))
    assert [t.name for t in s.kselftests] == ["net:nl_netdev.py", "drivers/net:ping.py"]
    assert s.kselftests[1].test_id == "kselftest/drivers/net/ping.py"
    assert s.kselftests[1].path(Path("/src")) == Path(
        "/src/tools/testing/selftests/drivers/net/ping.py"
    )


def test_none_by_default(harness_repo: Path) -> None:
    assert (
        load_series(write_manifest(harness_repo, "s", 'name = "s"\n'), harness_repo).kselftests
        == ()
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("nl_netdev.py", "no ':' between collection and test"),
        (":nl_netdev.py", "the collection '' is not a directory path"),
        ("net:", "the test '' is not a file name"),
        ("../net:x.py", "the collection '../net' is not a directory path"),
        ("/net:x.py", "the collection '/net' is not a directory path"),
        ("drivers/net/:ping.py", "the collection 'drivers/net/' is not a directory path"),
        ("net:lib/py/x.py", "the test 'lib/py/x.py' is not a file name"),
        ("net:a:b", "the test 'a:b' is not a file name"),
        ("net:..", "the test '..' is not a file name"),
        ("net x:y.sh", "the collection 'net x' is not a directory path"),
    ],
)
def test_a_bad_name_is_a_usage_error_naming_manifest_and_entry(
    harness_repo: Path, name: str, why: str
) -> None:
    d = write_manifest(harness_repo, "s", f'name = "s"\nkselftests = ["{name}"]\n')
    with pytest.raises(UsageError) as info:
        load_series(d, harness_repo)
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert err.problem.startswith(
        f"{d / 'series.toml'}: kselftests entry {name!r} is not collection:test: "
    )
    assert why in err.problem
    assert err.fix is not None
    assert 'kselftests = ["net:nl_netdev.py"]' in err.fix


def test_listed_twice(harness_repo: Path) -> None:
    d = write_manifest(harness_repo, "s", 'name = "s"\nkselftests = ["net:a.py", "net:a.py"]\n')
    with pytest.raises(UsageError, match=r"kselftests lists \['net:a.py'\] more than once"):
        load_series(d, harness_repo)


@pytest.mark.parametrize("value", ['"net:a.py"', "[1]"])
def test_must_be_a_list_of_strings(harness_repo: Path, value: str) -> None:
    d = write_manifest(harness_repo, "s", f'name = "s"\nkselftests = {value}\n')
    with pytest.raises(UsageError, match="'kselftests' must be a list of strings"):
        load_series(d, harness_repo)


def test_stack_union_names_the_first_series_listing_each(harness_repo: Path) -> None:
    a = load_series(
        write_manifest(harness_repo, "a", 'name = "a"\nkselftests = ["net:a.py"]\n'),
        harness_repo,
    )
    b = load_series(
        write_manifest(harness_repo, "b", 'name = "b"\nkselftests = ["net:b.sh", "net:a.py"]\n'),
        harness_repo,
    )
    assert stack_kselftests([a, b]) == [
        (Kselftest("net", "a.py"), "a"),
        (Kselftest("net", "b.sh"), "b"),
    ]


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    tree = tmp_path / "src"
    for rel, text in files.items():
        f = tree / kselftests.SELFTESTS / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return tree


def test_check_in_tree_accepts_python_and_scripts(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"net/a.py": "print()\n", "net/b.sh": "#!/bin/bash\n"})
    kselftests.check_in_tree(
        [(Kselftest("net", "a.py"), "s"), (Kselftest("net", "b.sh"), "s")], tree
    )


def test_check_in_tree_names_a_missing_test_and_its_series(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"net/a.py": ""})
    with pytest.raises(UsageError) as info:
        kselftests.check_in_tree([(Kselftest("net", "nope.py"), "xdp-stats")], tree)
    path = tree / "tools/testing/selftests/net/nope.py"
    assert info.value.problem == (
        f"kselftest net:nope.py (series xdp-stats): {path} is not in the kernel tree"
    )
    assert info.value.fix is not None
    assert "patches/xdp-stats/series.toml" in info.value.fix


def test_check_in_tree_refuses_what_needs_a_build(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"net/reuseport_bpf.c": "int main(void) { return 0; }\n"})
    with pytest.raises(UsageError, match=r"neither a \.py file nor a script with a #! line"):
        kselftests.check_in_tree([(Kselftest("net", "reuseport_bpf.c"), "s")], tree)


def test_command(tmp_path: Path) -> None:
    py, sh, env = tmp_path / "t.py", tmp_path / "t.sh", tmp_path / "t"
    py.write_text("#!/usr/bin/env python3\n")
    sh.write_text("#!/bin/bash -e\necho\n")
    env.write_text("#!/usr/bin/env bash\n")
    assert kselftests.command(py, "/venv/bin/python") == ["/venv/bin/python", str(py)]
    assert kselftests.command(sh, "py") == ["/bin/bash", "-e", str(sh)]
    assert kselftests.command(env, "py") == ["/usr/bin/env", "bash", str(env)]


def test_timeout(tmp_path: Path) -> None:
    assert kselftests.timeout(tmp_path) == kselftests.MIN_TIMEOUT
    (tmp_path / "settings").write_text("timeout=700\n")
    assert kselftests.timeout(tmp_path) == 700.0
    (tmp_path / "settings").write_text("timeout=3600\n")
    assert kselftests.timeout(tmp_path) == kselftests.MAX_TIMEOUT
    (tmp_path / "settings").write_text("timeout=90\n")
    assert kselftests.timeout(tmp_path) == kselftests.MIN_TIMEOUT


def _out(text: str) -> ktap.Output:
    return ktap.parse(text.splitlines())


FULL = "KTAP version 1\n1..2\nok 1 a\nnot ok 2 b\n"


@pytest.mark.parametrize(
    ("text", "returncode", "problem"),
    [
        (FULL, 1, None),  # the failure is b's, reported on its own
        ("1..2\nok 1 a\nok 2 b\n", 0, None),
        ("1..1\nok 1 a # SKIP x\n", 4, None),
        ("1..1\nok 1 a # XFAIL x\n", 2, None),
        ("", 0, None),  # no KTAP: exit 0 passes
        ("", 4, None),  # ... exit 4 skips
        ("Traceback ...\n", 1, "exited 1 with no KTAP output"),
        ("KTAP version 1\n1..3\n", 1, "exited 1 with KTAP without results"),
        (FULL, None, "killed after the timeout of 600s"),
        (FULL, -11, "killed by signal 11"),
        ("1..3\nok 1 a\n", 0, "planned 3 results, reported 1 (did it crash?)"),
        ("1..1\nok 1 a\n", 1, "exited 1, which its KTAP results do not explain"),
        ("1..1\nok 1 a\nBail out! no device\n", 0, "Bail out! no device"),
        (
            "1..1\n    1..2\n    ok 1 x\nok 1 a\n",
            0,
            "a nested test planned 2 results, reported 1",
        ),
    ],
)
def test_process_problem(text: str, returncode: int | None, problem: str | None) -> None:
    assert kselftests.process_problem(_out(text), returncode, 600) == problem


def test_no_ktap_skip() -> None:
    assert kselftests.no_ktap_skip(_out("no ktap\n"), 4)
    assert not kselftests.no_ktap_skip(_out("no ktap\n"), 0)
    assert not kselftests.no_ktap_skip(_out("ok 1 a # SKIP\n"), 4)
