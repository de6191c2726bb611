"""harness reproduce: what a run records (harness.inputs), what is refused (another
base, a changed patch or fragment, results without the record), and the rerun through
an injected pipeline, compared with the original."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from compare_data import BASE_COMMIT, bench_results, run_results, write_results
from helpers import init_repo, make_image, make_series, patch_text

from harness import inputs
from harness.cli import main
from harness.errors import ExitCode
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.reproduce import (
    NotRecorded,
    Overrides,
    ReproduceRefused,
    command_line,
    plan,
    reproduce,
)
from harness.results_load import LoadedResults, open_results


@pytest.fixture
def repo(harness_repo: Path) -> Path:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    make_series(
        harness_repo,
        "xdp-meta",
        depends_on=("baseline",),
        config=("xdp.config",),
        selftests=("baseline", "xdp_meta"),
        patches={
            "0000-cover-letter.patch": patch_text("[PATCH 0/2] cover"),
            "0001-one.patch": patch_text("[PATCH 1/2] xdp: one"),
            "0002-two.patch": patch_text("[PATCH 2/2] xdp: two"),
        },
    )
    (harness_repo / "kernel-config" / "debug.config").write_text("CONFIG_KASAN=y\n")
    return harness_repo


def _recorded(repo: Path, tmp_path: Path, tests: dict[str, str], **opts: Any) -> dict[str, Any]:
    """A results.json as `harness run --series xdp-meta` with opts records it."""
    o = Options(command="run", series=["xdp-meta"], results_root=tmp_path / "r", **opts)
    p = Pipeline(o, repo, CacheLayout(tmp_path / "cache"))
    data = run_results(
        tests, series=("baseline", "xdp-meta"), inputs=json.loads(json.dumps(p.report.inputs))
    )
    data["suites"] = p.suites
    return data


def test_a_run_records_what_it_tests(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {}, keyword="redirect", debug_config=True, jobs=2, accel="tcg")
    rec = data["inputs"]
    assert [s["name"] for s in rec["series"]] == ["baseline", "xdp-meta"]
    patches = rec["series"][1]["patches"]
    assert [p["name"] for p in patches] == ["0001-one.patch", "0002-two.patch"]
    assert patches[0]["sha256"] == inputs.sha256_file(repo / "patches/xdp-meta/0001-one.patch")
    assert [f["name"] for f in rec["config"]["fragments"]] == [
        "base.config",
        "xdp.config",
        "debug.config",
    ]
    assert rec["config"]["debug"] is True
    assert (rec["keyword"], rec["jobs"], rec["accel"]) == ("redirect", 2, "tcg")
    assert rec["guest_image"] is None
    read = inputs.read(data, "results.json")
    assert read is not None
    assert read.series_names == ["baseline", "xdp-meta"]
    assert read.to_dict() == rec


def test_plan_recreates_the_options(repo: Path, tmp_path: Path) -> None:
    data = _recorded(
        repo,
        tmp_path,
        {},
        keyword="redirect",
        debug_config=True,
        allow_skips=True,
        jobs=2,
        pytest_args=["-x"],
    )
    p = plan(data, "A", repo, Overrides())
    o = p.opts
    assert o.command == "run"
    assert o.series == ["baseline", "xdp-meta"]
    assert (o.keyword, o.debug_config, o.allow_skips, o.jobs) == ("redirect", True, True, 2)
    assert o.pytest_args == ["-x"]
    assert o.accel == "tcg"  # the accelerator the run used
    assert o.expected_base == inputs.BaseRef(
        BASE_COMMIT, "6.12.118", "Debian linux-source-6.12 6.12.118-1~deb12u1"
    )
    assert p.warnings == []
    o = plan(data, "A", repo, Overrides(accel="kvm", jobs=1)).opts
    assert (o.accel, o.jobs) == ("kvm", 1)


def test_a_changed_patch_is_refused_by_name(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    (repo / "patches/xdp-meta/0002-two.patch").write_text(patch_text("[PATCH 2/2] xdp: 2"))
    with pytest.raises(ReproduceRefused) as exc:
        plan(data, "A", repo, Overrides())
    assert exc.value.exit_code == ExitCode.USAGE
    assert "A cannot be reproduced by this checkout" in str(exc.value)
    assert "series xdp-meta: patch 0002-two.patch changed (sha256 " in str(exc.value)
    assert "0001-one.patch" not in str(exc.value)


def test_a_missing_and_a_new_patch_are_refused(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    (repo / "patches/xdp-meta/0002-two.patch").unlink()
    (repo / "patches/xdp-meta/0003-three.patch").write_text(patch_text("[PATCH] three"))
    with pytest.raises(ReproduceRefused) as exc:
        plan(data, "A", repo, Overrides())
    text = str(exc.value)
    assert "series xdp-meta: patch 0002-two.patch is missing here" in text
    assert "series xdp-meta: patch 0003-three.patch is new here" in text


def test_a_changed_fragment_is_refused(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    (repo / "kernel-config/xdp.config").write_text("CONFIG_XDP_SOCKETS=y\n")
    with pytest.raises(ReproduceRefused, match=r"config fragment kernel-config/xdp\.config"):
        plan(data, "A", repo, Overrides())


def test_a_changed_stack_is_refused(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    make_series(repo, "extra", selftests=("baseline",))
    toml = repo / "patches/xdp-meta/series.toml"
    toml.write_text(toml.read_text().replace('["baseline"]', '["baseline", "extra"]', 1))
    with pytest.raises(ReproduceRefused, match="the stack is not the same here"):
        plan(data, "A", repo, Overrides())


def test_an_unknown_series_is_refused(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    data["inputs"]["series"][1]["name"] = "gone"
    with pytest.raises(ReproduceRefused, match="the recorded series baseline, gone cannot"):
        plan(data, "A", repo, Overrides())


def test_a_run_on_an_image_needs_that_image(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    data["inputs"]["guest_image"] = "bookworm-48112e6c8f65"
    with pytest.raises(ReproduceRefused, match="booted guest image bookworm-48112e6c8f65: pass"):
        plan(data, "A", repo, Overrides())
    other = make_image(tmp_path / "other", image_id="bookworm-000000000000")
    with pytest.raises(ReproduceRefused, match="is bookworm-000000000000"):
        plan(data, "A", repo, Overrides(image=other))
    same = make_image(tmp_path / "same", image_id="bookworm-48112e6c8f65")
    p = plan(data, "A", repo, Overrides(image=same))
    assert p.opts.image == same
    assert "--image" in command_line(p.opts)


def test_the_default_image_is_booted_only_for_a_run_made_on_one(repo: Path, tmp_path: Path) -> None:
    """$XDP_HARNESS_IMAGE / the config file: the recorded userspace decides."""
    img = make_image(tmp_path / "img", image_id="bookworm-48112e6c8f65")
    host_run = _recorded(repo, tmp_path, {})
    assert plan(host_run, "A", repo, Overrides(default_image=img)).opts.image is None
    image_run = _recorded(repo, tmp_path, {})
    image_run["inputs"]["guest_image"] = "bookworm-48112e6c8f65"
    assert plan(image_run, "A", repo, Overrides(default_image=img)).opts.image == img


def test_a_host_root_run_reproduced_on_an_image_warns(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    img = make_image(tmp_path / "img", image_id="bookworm-48112e6c8f65")
    p = plan(data, "A", repo, Overrides(image=img))
    assert any("host's userspace, this one boots guest image" in w for w in p.warnings)
    assert p.opts.image == img


def test_a_changed_manifest_only_warns(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    toml = repo / "patches/xdp-meta/series.toml"
    toml.write_text(toml.read_text().replace("series xdp-meta", "described anew"))
    p = plan(data, "A", repo, Overrides())
    assert any("series.toml changed since the run" in w for w in p.warnings)


def test_old_results_without_inputs(repo: Path, tmp_path: Path) -> None:
    old = run_results(
        {"t::a": "passed"},
        series=("baseline", "xdp-meta"),
        command="harness test --series xdp-meta -k 'a or b'",
    )
    with pytest.raises(NotRecorded, match="records no patch digests") as exc:
        plan(old, "old/results.json", repo, Overrides())
    assert exc.value.exit_code == ExitCode.USAGE
    assert "--allow-unrecorded" in str(exc.value)
    p = plan(old, "old/results.json", repo, Overrides(allow_unrecorded=True))
    assert p.opts.series == ["baseline", "xdp-meta"]
    assert p.opts.keyword == "a or b"
    assert p.opts.expected_base is not None
    (warning,) = p.warnings
    assert "unverified" in warning and "-k taken from its command line: a or b" in warning


def test_results_without_a_base_or_of_a_bench(repo: Path, tmp_path: Path) -> None:
    data = _recorded(repo, tmp_path, {})
    del data["kernel"]["base_commit"]
    with pytest.raises(NotRecorded, match="records no base kernel"):
        plan(data, "A", repo, Overrides())
    with pytest.raises(ReproduceRefused, match="is a bench result"):
        plan(bench_results({}), "B", repo, Overrides())


def test_check_base() -> None:
    want = inputs.BaseRef(BASE_COMMIT, "6.12.118", "Debian linux-source-6.12 6.12.118-1")
    inputs.check_base(want, BASE_COMMIT, "6.12.118", "anywhere")
    with pytest.raises(inputs.BaseDiffers) as exc:
        inputs.check_base(want, "b" * 40, "6.12.119", "Debian linux-source-6.12 6.12.119-1")
    assert exc.value.exit_code == ExitCode.USAGE
    assert str(exc.value).startswith(
        "base differs: the results were made on 6.12.118 (Debian linux-source-6.12 "
        "6.12.118-1, commit 607e615b78dc), the base here is 6.12.119"
    )


def test_the_pipeline_refuses_another_base_after_its_source_stage(
    repo: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "linux"
    head = init_repo(tree, {"Makefile": "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 118\n"})
    cache = CacheLayout(tmp_path / "cache")

    def source(expected: str) -> None:
        want = inputs.BaseRef(expected, "6.12.118", "recorded")
        o = Options(command="run", series=["xdp-meta"], kernel_tree=tree, expected_base=want)
        Pipeline(o, repo, cache).source_stage()

    source(head)
    with pytest.raises(inputs.BaseDiffers, match="base differs"):
        source("c" * 40)


# -- the rerun, through a fake pipeline ------------------------------------------------


class FakeRun:
    """Stands in for the pipeline: writes the results a run would, records its options."""

    def __init__(self, root: Path, tests: dict[str, str], code: ExitCode = ExitCode.OK) -> None:
        self.root, self.tests, self.code = root, tests, code
        self.opts: list[Options] = []

    def __call__(self, opts: Options) -> tuple[ExitCode, Path]:
        self.opts.append(opts)
        d = self.root / f"run-{len(self.opts)}"
        write_results(d, run_results(self.tests, exit_code=int(self.code)))
        return self.code, d


def _reproduce(
    original: Path, repo: Path, run: FakeRun
) -> tuple[ExitCode, list[tuple[str, str]], list[str]]:
    shown: list[tuple[str, str]] = []
    notes: list[str] = []

    def show(a: LoadedResults, b: LoadedResults) -> ExitCode:
        shown.append((a.label, b.label))
        return ExitCode.OK if a.data["tests"] == b.data["tests"] else ExitCode.FAILED

    with open_results(original) as a:
        outcome = reproduce(a, repo, run, show, Overrides(), notes.append)
    return outcome.code, shown, notes


def test_reproduced_outcomes_match(repo: Path, tmp_path: Path) -> None:
    tests = {"t::a": "passed", "t::b": "failed"}
    original = write_results(tmp_path / "orig", _recorded(repo, tmp_path, tests, keyword="a"))
    run = FakeRun(tmp_path / "new", tests)
    code, shown, notes = _reproduce(original, repo, run)
    assert code == ExitCode.OK
    assert shown == [(str(original), str(tmp_path / "new/run-1"))]
    (opts,) = run.opts
    assert (opts.series, opts.keyword) == (["baseline", "xdp-meta"], "a")
    assert notes[-1].startswith("reproducing ")
    assert "harness run --series baseline --series xdp-meta" in notes[-1]
    assert "-k a" in notes[-1]


def test_reproduced_outcomes_differ(repo: Path, tmp_path: Path) -> None:
    original = write_results(tmp_path / "orig", _recorded(repo, tmp_path, {"t::a": "passed"}))
    code, shown, _ = _reproduce(original, repo, FakeRun(tmp_path / "new", {"t::a": "failed"}))
    assert code == ExitCode.FAILED
    assert len(shown) == 1


def test_a_rerun_that_fails_by_itself_gives_its_code(repo: Path, tmp_path: Path) -> None:
    original = write_results(tmp_path / "orig", _recorded(repo, tmp_path, {"t::a": "passed"}))
    run = FakeRun(tmp_path / "new", {}, code=ExitCode.USAGE)  # e.g. the base differs
    code, shown, _ = _reproduce(original, repo, run)
    assert code == ExitCode.USAGE
    assert shown == []


def test_a_refusal_runs_nothing(repo: Path, tmp_path: Path) -> None:
    original = write_results(tmp_path / "orig", _recorded(repo, tmp_path, {"t::a": "passed"}))
    (repo / "patches/xdp-meta/0001-one.patch").write_text("changed")
    run = FakeRun(tmp_path / "new", {"t::a": "passed"})
    with pytest.raises(ReproduceRefused):
        _reproduce(original, repo, run)
    assert run.opts == []


def test_cli_refuses_old_results(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_REPO", str(repo))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    old = write_results(tmp_path / "old", run_results({"t::a": "passed"}))
    assert main(["reproduce", str(old)]) == 2
    err = capsys.readouterr().err
    assert "records no patch digests" in err
    assert "--allow-unrecorded" in err


def test_cli_refuses_a_changed_patch_from_a_bundle(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness import bundle

    monkeypatch.setenv("HARNESS_REPO", str(repo))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    results = write_results(tmp_path / "res" / "run-1", _recorded(repo, tmp_path, {}))
    path = bundle.write(results, repo)
    (repo / "patches/xdp-meta/0001-one.patch").write_text("changed")
    assert main(["reproduce", str(path)]) == 2
    assert "series xdp-meta: patch 0001-one.patch changed" in capsys.readouterr().err


def test_results_json_of_a_run_holds_its_inputs(repo: Path, tmp_path: Path) -> None:
    """Even a run that ends early (no built kernel) records what it was asked to test."""
    opts = Options(
        command="test", series=["xdp-meta"], keyword="one", results_root=tmp_path / "results"
    )
    p = Pipeline(opts, repo, CacheLayout(tmp_path / "cache"), host_check=lambda stages: None)
    assert p.execute() == ExitCode.USAGE
    data = json.loads((p.results / "results.json").read_text())
    read = inputs.read(data, "results.json")
    assert read is not None
    assert read.keyword == "one"
    assert [q["name"] for q in read.series[1]["patches"]] == ["0001-one.patch", "0002-two.patch"]


def test_run_bundle_after_the_run(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`harness run --bundle`: the bundle is written whatever the run's verdict."""
    monkeypatch.setenv("HARNESS_REPO", str(repo))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))

    def execute(self: Pipeline) -> ExitCode:
        self.open_results()
        self.report.tests = []
        self.report.exit_code = 1
        self.report.write(self.results)
        return ExitCode.FAILED

    monkeypatch.setattr(Pipeline, "execute", execute)
    root = tmp_path / "results"
    argv = ["run", "--series", "xdp-meta", "--results-dir", str(root), "--bundle"]
    assert main(argv) == 1
    (path,) = root.glob("results-*-xdp-meta.tar.zst")
    assert f"bundle: {path}" in capsys.readouterr().out
    with open_results(path) as loaded:
        assert (loaded.directory / "inputs/patches/xdp-meta/0002-two.patch").is_file()
        assert (loaded.directory / "inputs/kernel-config/xdp.config").is_file()
