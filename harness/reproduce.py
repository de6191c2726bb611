"""`harness reproduce RESULTS`: run again what a run tested, then compare.

What the results record (harness.inputs: the stack, each patch's digest, the config
fragments, -k and the other options; the base in "kernel") is checked against this
checkout first: what cannot be recreated here (another stack, a changed, added or
missing patch or fragment, a guest image) is refused, naming it (exit 2). A base
other than the recorded one is refused by the run itself, right after its source
stage (Options.expected_base). The run goes through the pipeline `harness run` uses
(injectable: the tests pass a fake), then harness.compare_render shows the outcome."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import inputs
from harness.errors import ExitCode, UsageError
from harness.guest_image import GuestImage
from harness.paths import CacheLayout
from harness.pipeline import Options, Pipeline
from harness.results_load import LoadedResults, open_results
from harness.series import Catalog, Series, config_fragments, resolve, selftest_suites

# Runs the pipeline with these options; returns its exit code and results directory.
RunFn = Callable[[Options], tuple[ExitCode, Path]]


class ReproduceRefused(UsageError):
    """What the results tested cannot be recreated by this checkout."""


class NotRecorded(ReproduceRefused):
    """The results do not record what reproducing needs (written by an older harness)."""


@dataclass(frozen=True)
class Overrides:
    """What the reproducer chooses instead of the recorded values (None: as recorded)."""

    accel: str | None = None
    kernel_tree: Path | None = None
    jobs: int | None = None
    timeout: float | None = None
    boot_timeout: float | None = None
    results_root: Path | None = None
    verbose: bool = False
    allow_unrecorded: bool = False
    image: Path | None = None  # --image: the guest image to boot (vm-images/build-rootfs.sh)
    # $XDP_HARNESS_IMAGE or the config file's: booted only when the run booted an image
    default_image: Path | None = None


@dataclass
class Plan:
    opts: Options
    warnings: list[str] = field(default_factory=list)


def _patch_differences(recorded: Mapping[str, Any], now: Series) -> list[str]:
    """Each patch of one series that is not as recorded: changed, missing here, new here."""
    was = {str(p["name"]): str(p["sha256"]) for p in recorded["patches"]}
    here = {p.name: inputs.sha256_file(p) for p in now.patches}
    out = []
    for name, digest in was.items():
        if name not in here:
            out.append(f"series {now.name}: patch {name} is missing here")
        elif here[name] != digest:
            out.append(
                f"series {now.name}: patch {name} changed (sha256 {digest[:12]} recorded, "
                f"{here[name][:12]} here: {now.path / name})"
            )
    out += [
        f"series {now.name}: patch {name} is new here ({now.path / name})"
        for name in here
        if name not in was
    ]
    return out


def _fragment_differences(recorded: list[dict[str, str]], now: list[Path]) -> list[str]:
    was = {f["name"]: f["sha256"] for f in recorded}
    here = {f.name: inputs.sha256_file(f) for f in now if f.exists()}
    out = []
    for name, digest in was.items():
        if name not in here:
            out.append(f"config fragment kernel-config/{name} is not used or missing here")
        elif here[name] != digest:
            out.append(f"config fragment kernel-config/{name} changed")
    out += [f"config fragment kernel-config/{n} is new here" for n in here if n not in was]
    return out


def _unrecorded_plan(
    data: Mapping[str, Any], where: str, repo: Path, ov: Overrides, base: inputs.BaseRef
) -> Plan:
    """Old results: the series and -k from what they do record, nothing verified."""
    series = [str(s) for s in data.get("series", [])]
    keyword = inputs.keyword_from_command(str(data.get("command", "")))
    warnings = [
        f"{where} records no patch digests, config fragments or options (written before "
        "the harness recorded them): the patches, fragments and options of this checkout "
        f"are used unverified; -k taken from its command line: {keyword or 'none'}"
    ]
    accel = ov.accel or str((data.get("accel") or {}).get("accel") or "auto")
    opts = Options(
        command="run",
        series=series,
        kernel_tree=ov.kernel_tree,
        accel=accel,
        timeout=ov.timeout,
        boot_timeout=ov.boot_timeout,
        results_root=ov.results_root,
        keyword=keyword,
        verbose=ov.verbose,
        jobs=ov.jobs or 1,
        expected_base=base,
        image=ov.image,
    )
    return Plan(opts, warnings)


def plan(data: Mapping[str, Any], where: str, repo: Path, ov: Overrides) -> Plan:
    """The options to run what ``data`` (a run's results.json) tested, or a refusal
    naming everything that differs and cannot be recreated."""
    if "samples" in data:
        raise ReproduceRefused(
            f"{where} is a bench result: reproduce reruns `harness run` results",
            'rerun the bench with the command it records ("command"), then '
            "`harness compare` the two",
        )
    base = inputs.base_of(data)
    if base is None:
        raise NotRecorded(
            f"{where} records no base kernel (the run ended before its source stage)",
            "reproduce a run that got as far as building a kernel",
        )
    recorded = inputs.read(data, where)
    if recorded is None:
        if ov.allow_unrecorded:
            return _unrecorded_plan(data, where, repo, ov, base)
        raise NotRecorded(
            f"{where} records no patch digests, config fragments or test selection "
            '(no "inputs": written by a harness before `reproduce` existed), so what it '
            "tested cannot be checked",
            "run it again with this harness (its command line is in results.json's "
            '"command"), or pass --allow-unrecorded to rerun its series with this '
            "checkout's patches unverified",
        )
    problems: list[str] = []
    warnings: list[str] = []
    chosen = ov.image
    if chosen is None and recorded.guest_image is not None:
        chosen = ov.default_image
    image = None if chosen is None else GuestImage.load(chosen)
    if recorded.guest_image is not None and image is None:
        problems.append(
            f"the run booted guest image {recorded.guest_image}: pass --image DIR with an "
            "image of that id (vm-images/build-rootfs.sh DIR builds one)"
        )
    elif recorded.guest_image is not None and image is not None:
        if image.image_id != recorded.guest_image:
            problems.append(
                f"the run booted guest image {recorded.guest_image}, {image.root} is "
                f"{image.image_id} (other package versions: compare the two "
                "/etc/xdp-harness-image.json)"
            )
    elif image is not None:
        warnings.append(
            f"the run used the host's userspace, this one boots guest image {image.image_id} "
            "(the same pinned pytest, scapy and pyroute2; other system tools)"
        )
    names = recorded.series_names
    try:
        stack = resolve(names, Catalog(repo))
    except UsageError as exc:
        raise ReproduceRefused(
            f"the recorded series {', '.join(names)} cannot be resolved here: {exc.problem}",
            exc.fix,
        ) from exc
    if [s.name for s in stack] != names:
        problems.append(
            f"the stack is not the same here: recorded {' + '.join(names)}, "
            f"here {' + '.join(s.name for s in stack)} (dependencies changed)"
        )
    now = {s.name: s for s in stack}
    for rec in recorded.series:
        series = now.get(str(rec["name"]))
        if series is None:
            continue
        problems += _patch_differences(rec, series)
        if rec.get("manifest_sha256") != inputs.series_record(series)["manifest_sha256"]:
            warnings.append(
                f"series {series.name}: {series.path / 'series.toml'} changed since the run "
                "(its test lists, guest shape or description)"
            )
    frag_names = ["base.config", *config_fragments(stack)]
    if recorded.debug_config:
        frag_names.append("debug.config")
    problems += _fragment_differences(
        recorded.fragments, [repo / "kernel-config" / n for n in frag_names]
    )
    kernel_tree = ov.kernel_tree
    if kernel_tree is None and recorded.kernel_tree is not None:
        kernel_tree = Path(recorded.kernel_tree)
        if not kernel_tree.is_dir():
            problems.append(
                f"the run's base was the kernel tree {kernel_tree}, which is not here "
                "(pass --kernel-tree PATH to a tree at the recorded commit)"
            )
    if problems:
        raise ReproduceRefused(
            f"{where} cannot be reproduced by this checkout:\n  " + "\n  ".join(problems),
            "check out the harness revision the run used"
            + (f" ({recorded.harness_commit[:12]})" if recorded.harness_commit else "")
            + ", or take the patches from the run's bundle",
        )
    commit, dirty = inputs.harness_commit(repo)
    if recorded.harness_commit and commit and recorded.harness_commit != commit:
        warnings.append(
            f"the run used harness commit {recorded.harness_commit[:12]}, this checkout is "
            f"{commit[:12]}: the selftests may differ"
        )
    if dirty or recorded.harness_dirty:
        side = "this checkout has" if dirty else "the run's checkout had"
        warnings.append(f"{side} uncommitted changes: the selftests may differ")
    if list(data.get("suites", [])) != selftest_suites(stack):
        warnings.append(
            f"the suites differ: recorded {', '.join(data.get('suites', []))}, here "
            f"{', '.join(selftest_suites(stack))}"
        )
    accel = ov.accel or str((data.get("accel") or {}).get("accel") or recorded.accel)
    opts = Options(
        command="run",
        series=names,
        kernel_tree=kernel_tree,
        accel=accel,
        timeout=ov.timeout if ov.timeout is not None else recorded.timeout,
        boot_timeout=ov.boot_timeout if ov.boot_timeout is not None else recorded.boot_timeout,
        results_root=ov.results_root,
        allow_skips=recorded.allow_skips,
        keyword=recorded.keyword,
        debug_config=recorded.debug_config,
        verbose=ov.verbose,
        pytest_args=list(recorded.pytest_args),
        jobs=ov.jobs or recorded.jobs,
        expected_base=base,
        image=chosen,
    )
    return Plan(opts, warnings)


def command_line(opts: Options) -> str:
    """The `harness run` that the options amount to (shown before the run)."""
    words = ["harness", "run"]
    for s in opts.series:
        words += ["--series", s]
    if opts.kernel_tree is not None:
        words += ["--kernel-tree", str(opts.kernel_tree)]
    if opts.debug_config:
        words.append("--debug-config")
    words += ["--accel", opts.accel, "--jobs", str(opts.jobs)]
    if opts.keyword:
        words += ["-k", opts.keyword]
    if opts.allow_skips:
        words.append("--allow-skips")
    if opts.timeout is not None:
        words += ["--timeout", str(opts.timeout)]
    if opts.boot_timeout is not None:
        words += ["--boot-timeout", str(opts.boot_timeout)]
    words += ["--no-image"] if opts.image is None else ["--image", str(opts.image)]
    return shlex.join(words)


def pipeline_run(repo: Path, cache: CacheLayout) -> RunFn:
    """The real run: the Pipeline of `harness run`."""

    def run(opts: Options) -> tuple[ExitCode, Path]:
        p = Pipeline(opts, repo, cache)
        return p.execute(), p.results

    return run


@dataclass(frozen=True)
class Outcome:
    """How a reproduction ended: the exit code, the new results (None: no run)."""

    code: ExitCode
    results: Path | None


def reproduce(
    original: LoadedResults,
    repo: Path,
    run: RunFn,
    show: Callable[[LoadedResults, LoadedResults], ExitCode],
    ov: Overrides,
    note: Callable[[str], None],
) -> Outcome:
    """Plan (or refuse), run, compare with ``show``. Exit 0 only when the outcomes
    match; when the run itself failed for another reason than the original (2 or 3:
    the base differs, a VM did not boot), its code, without a comparison if no test ran."""
    p = plan(original.data, original.label, repo, ov)
    for w in p.warnings:
        note(f"warning: {w}")
    note(f"reproducing {original.label}: {command_line(p.opts)}")
    code, results = run(p.opts)
    if not (results / "results.json").is_file():
        return Outcome(code if code != ExitCode.OK else ExitCode.INFRA, results)
    with open_results(results) as again:
        recorded_code = original.data.get("exit_code")
        failed_itself = code in (ExitCode.USAGE, ExitCode.INFRA) and code != recorded_code
        if failed_itself and not again.data.get("tests"):
            return Outcome(code, results)
        shown = show(original, again)
    return Outcome(code if failed_itself else shown, results)
