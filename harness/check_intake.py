"""What `harness check` is asked to check: a posting from an mbox, a git range or a
series of this repository, with the series it goes on top of and the checkpatch
types it justifies."""

from __future__ import annotations

import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UsageError
from harness.mbox import Posting, read_mbox, read_patch_files
from harness.runner import Runner
from harness.series import Catalog, Series, checkpatch_allow, resolve


@dataclass(frozen=True)
class CheckOptions:
    mbox: Path | None = None
    range: str | None = None  # BASE..HEAD in kernel_tree
    series: str | None = None  # patches/<series>/
    kernel_tree: Path | None = None
    base: str | None = None  # a revision of kernel_tree to check on
    depends_on: tuple[str, ...] = ()  # series of this repo applied first
    allow: Path | None = None  # TOML with [checkpatch] allow = {TYPE = "reason"}
    no_build: bool = False
    scripts: Path | None = None  # checkpatch.pl and kernel-doc from here, not the base's
    results_root: Path | None = None
    # at each patch, its kernel booted and the baseline suite run (harness.check_vm)
    per_patch_tests: bool = False
    rerun_failures: bool = True  # in those VM runs (harness.rerun)
    accel: str = "auto"


@dataclass(frozen=True)
class Intake:
    posting: Posting
    name: str  # for the run id: the series, the mbox's name, "range"
    from_range: bool
    dependencies: tuple[Series, ...]  # applied first, in order
    config: tuple[str, ...]  # kernel-config fragments of the series and its dependencies
    allow: dict[str, str] = field(default_factory=dict)
    base_rev: str | None = None  # where to apply, in a --kernel-tree
    notes: tuple[str, ...] = ()


def read_allow(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise UsageError(f"--allow {path}: no such file", "a TOML file with [checkpatch] allow")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--allow {path}: not valid TOML: {exc}") from exc
    # a series.toml is a valid --allow file: only its [checkpatch] table is read
    return checkpatch_allow(data.get("checkpatch", {}), path)


def _range_posting(tree: Path, rng: str, runner: Runner) -> tuple[Posting, str]:
    if ".." not in rng or rng.startswith("..") or rng.endswith(".."):
        raise UsageError(f"--range {rng!r}: want BASE..HEAD", "e.g. --range v6.12..my-branch")
    base = rng.split("..", 1)[0]
    sha = runner.git(tree, "rev-parse", "-q", "--verify", f"{base}^{{commit}}", check=False)
    if not sha:
        raise UsageError(f"--range {rng}: {base!r} is not a commit of {tree}")
    proc = runner.run(
        ["git", "-C", str(tree), "format-patch", "--stdout", "-n", "--no-signature", rng],
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        why = (proc.stderr or "").strip() or "no commit in the range"
        raise UsageError(f"--range {rng} in {tree}: {why}", "give BASE..HEAD with commits")
    with tempfile.TemporaryDirectory(prefix="harness-range-") as tmp:
        box = Path(tmp) / "range.mbox"
        box.write_text(proc.stdout)
        posting = read_mbox(box)
    return Posting(f"{tree} {rng}", posting.patches, None, sha), sha


def take(opts: CheckOptions, repo: Path, runner: Runner) -> Intake:
    """The posting and what it needs; bad input raises UsageError (exit 2)."""
    given = [x for x in (opts.mbox, opts.range, opts.series) if x is not None]
    if len(given) != 1:
        raise UsageError(
            "harness check needs exactly one of --mbox FILE, --range BASE..HEAD, --series NAME"
        )
    if opts.range is not None and opts.kernel_tree is None:
        raise UsageError("--range needs --kernel-tree PATH (the git tree it is a range of)")
    if opts.base is not None and opts.kernel_tree is None:
        raise UsageError(
            f"--base {opts.base} needs --kernel-tree PATH",
            "Debian's tarball is one commit: there is no other revision to check on",
        )
    if opts.per_patch_tests and opts.no_build:
        raise UsageError("--per-patch-tests needs the builds: it cannot go with --no-build")
    catalog = Catalog(repo)
    notes: list[str] = []
    series: Series | None = None
    from_range = False
    base_rev = opts.base
    if opts.series is not None:
        if opts.series not in catalog:
            raise UsageError(
                f"unknown series {opts.series!r}",
                f"known series: {', '.join(catalog)}; see `harness list`",
            )
        series = catalog[opts.series]
        if not series.patches:
            raise UsageError(f"series {series.name} has no patches: nothing to check")
        files = ([series.cover_letter] if series.cover_letter else []) + list(series.patches)
        posting = read_patch_files(files, f"patches/{series.name}")
        name = series.name
    elif opts.range is not None:
        assert opts.kernel_tree is not None
        posting, range_base = _range_posting(opts.kernel_tree, opts.range, runner)
        base_rev = base_rev or range_base
        name, from_range = "range", True
    else:
        assert opts.mbox is not None
        posting = read_mbox(opts.mbox)
        name = opts.mbox.stem
    deps_wanted = list(opts.depends_on) + list(series.depends_on if series else ())
    deps = resolve(deps_wanted, catalog) if deps_wanted else []
    allow = dict(series.checkpatch_allow) if series else {}
    if opts.allow is not None:
        allow.update(read_allow(opts.allow))
    if posting.base_commit and base_rev is None:
        if opts.kernel_tree is not None:
            base_rev = posting.base_commit
        else:
            notes.append(
                f"base-commit {posting.base_commit} not looked up: the Debian base has no "
                "history (pass --kernel-tree to check on it)"
            )
    config = [c for s in deps for c in s.config] + list(series.config if series else ())
    notes += [f"ignored {text}" for text in posting.ignored]
    return Intake(
        posting=posting,
        name=name,
        from_range=from_range,
        dependencies=tuple(deps),
        config=tuple(dict.fromkeys(config)),
        allow=allow,
        base_rev=base_rev,
        notes=tuple(notes),
    )
