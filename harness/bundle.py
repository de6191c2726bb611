"""One file per run for reviewers: results-<run-id>.tar.zst holds the results
directory (results.json, junit.xml, consoles, kernel config, commands.sh, logs) and,
under <run-id>/inputs/, the series' patches and the config fragments the run used.

zstd through the zstandard package; a bundle of an earlier harness (.tar.xz, .tar.gz)
is read too. Extraction refuses anything but regular files and directories below one
top directory (no absolute paths, no "..", no links or devices), and stops a
decompression past MAX_UNPACKED."""

from __future__ import annotations

import contextlib
import json
import os
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import zstandard

from harness.errors import UsageError
from harness.series import MANIFEST

SUFFIX = ".tar.zst"
ZSTD_LEVEL = 10  # ~as small as xz -6 for consoles and logs, many times faster
INPUTS = "inputs"
# a bundle that unpacks to more than this is refused (a decompression bomb)
MAX_UNPACKED = 8 << 30


class BadBundle(UsageError):
    """A bundle that is not one, or that would write outside where it is unpacked."""


def bundle_name(run_id: str) -> str:
    return f"results-{run_id}{SUFFIX}"


def is_bundle(path: Path) -> bool:
    name = path.name
    return path.is_file() and (
        name.endswith((".tar", ".tar.xz", ".tar.gz", ".tgz", ".tar.zst", ".tar.bz2"))
        or tarfile.is_tarfile(path)
    )


def _regular_only(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Files and directories of the results go in; a symlink or special file does not."""
    return info if info.isreg() or info.isdir() else None


def _inputs_of(results: Path) -> tuple[list[str], list[str]]:
    """The series and config fragments the run used, from its results.json."""
    data: dict[str, Any] = json.loads((results / "results.json").read_text())
    inputs = data.get("inputs") or {}
    series = [s["name"] for s in inputs.get("series", [])] or list(data.get("series", []))
    fragments = [f["name"] for f in (inputs.get("config") or {}).get("fragments", [])]
    return series, fragments


def write(results: Path, repo: Path, dest: Path | None = None) -> Path:
    """results-<run-id>.tar.zst of ``results`` in ``dest`` (default: beside it), with
    the series' directories (series.toml, cover letter, patches) and the config
    fragments of ``repo``; returns its path. Written whole or not at all."""
    run_id = results.name
    dest = dest or results.parent
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / bundle_name(run_id)
    tmp = dest / f".{out.name}.{os.getpid()}.part"
    series, fragments = _inputs_of(results)
    try:
        with (
            tmp.open("wb") as raw,
            zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(raw) as out_zst,
            tarfile.open(fileobj=out_zst, mode="w|") as tar,
        ):
            tar.add(results, arcname=run_id, filter=_regular_only)
            for name in series:
                d = repo / "patches" / name
                for f in sorted(d.iterdir()) if d.is_dir() else []:
                    if f.is_file() and (f.name == MANIFEST or f.suffix == ".patch"):
                        tar.add(f, arcname=f"{run_id}/{INPUTS}/patches/{name}/{f.name}")
            for frag in fragments:
                f = repo / "kernel-config" / frag
                if f.is_file():
                    tar.add(f, arcname=f"{run_id}/{INPUTS}/kernel-config/{frag}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _checked_members(tar: tarfile.TarFile, bundle: Path) -> tuple[str, list[tarfile.TarInfo]]:
    """Every member, refused (BadBundle, naming it) unless it is a regular file or a
    directory below the bundle's one top directory; returns that directory's name."""
    members = tar.getmembers()
    if not members:
        raise BadBundle(f"{bundle}: an empty archive", "give a bundle `harness run --bundle` wrote")
    tops: set[str] = set()
    total = 0
    for m in members:
        p = PurePosixPath(m.name)
        if p.is_absolute() or ".." in p.parts or not p.parts or m.name.startswith("/"):
            raise BadBundle(
                f"{bundle}: refusing member {m.name!r}: its path leaves the bundle's directory",
                "unpack only bundles `harness run --bundle` wrote; this one was altered",
            )
        if not (m.isreg() or m.isdir()):
            raise BadBundle(
                f"{bundle}: refusing member {m.name!r}: not a regular file or directory "
                "(a link or a device)",
                "unpack only bundles `harness run --bundle` wrote; this one was altered",
            )
        tops.add(p.parts[0])
        total += m.size
    if len(tops) != 1:
        raise BadBundle(
            f"{bundle}: expected one top directory (the run id), found {', '.join(sorted(tops))}",
            "give a bundle `harness run --bundle` wrote",
        )
    if total > MAX_UNPACKED:
        raise BadBundle(f"{bundle}: unpacks to {total >> 20} MiB, more than this harness accepts")
    return tops.pop(), members


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _is_zstd(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == _ZSTD_MAGIC


def _unzstd(bundle: Path, dest: Path) -> None:
    """Decompress ``bundle`` into ``dest``, refusing (BadBundle) more than
    MAX_UNPACKED bytes of tar."""
    with bundle.open("rb") as raw, dest.open("wb") as out:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        written = 0
        while chunk := reader.read(1 << 20):
            written += len(chunk)
            if written > MAX_UNPACKED + (1 << 20):
                raise BadBundle(
                    f"{bundle}: unpacks to more than {MAX_UNPACKED >> 20} MiB, more than this "
                    "harness accepts"
                )
            out.write(chunk)


def extract(bundle: Path, into: Path) -> Path:
    """Unpack ``bundle`` into ``into`` (an empty directory) after checking every member;
    returns the results directory in it."""
    try:
        with contextlib.ExitStack() as stack:
            source: Path = bundle
            if _is_zstd(bundle):
                # tarfile needs to seek (members checked, then extracted): the tar
                # decompressed beside, bounded
                tmp = stack.enter_context(tempfile.TemporaryDirectory(dir=into))
                source = Path(tmp) / "bundle.tar"
                _unzstd(bundle, source)
            with tarfile.open(source, "r:*") as tar:
                top, members = _checked_members(tar, bundle)
                tar.extractall(into, members=members, filter="data")
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError) as exc:
        raise BadBundle(
            f"{bundle}: cannot unpack ({type(exc).__name__}: {exc})",
            "give a complete bundle `harness run --bundle` wrote (results-<run-id>.tar.zst)",
        ) from exc
    results = into / top
    if not (results / "results.json").is_file():
        raise BadBundle(
            f"{bundle}: no {top}/results.json in it", "give a bundle `harness run --bundle` wrote"
        )
    return results
