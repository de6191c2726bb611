"""harness.bundle: a run's results with its patches and fragments in one .tar.zst, and
unpacking it without writing outside the directory it is unpacked into."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest
import zstandard
from compare_data import run_results, write_results
from helpers import make_series, patch_text

from harness import bundle
from harness.bundle import BadBundle
from harness.results_load import open_results


def _inputs() -> dict[str, object]:
    return {
        "series": [
            {"name": "baseline", "manifest_sha256": None, "patches": []},
            {"name": "xdp-meta", "manifest_sha256": None, "patches": []},
        ],
        "config": {
            "fragments": [
                {"name": "base.config", "sha256": "x"},
                {"name": "xdp.config", "sha256": "y"},
            ],
            "debug": False,
        },
    }


@pytest.fixture
def repo(harness_repo: Path) -> Path:
    make_series(harness_repo, "baseline", selftests=("baseline",))
    make_series(
        harness_repo,
        "xdp-meta",
        depends_on=("baseline",),
        config=("xdp.config",),
        patches={
            "0000-cover-letter.patch": patch_text("[PATCH 0/1] cover"),
            "0001-x.patch": patch_text("[PATCH 1/1] xdp: x"),
        },
    )
    make_series(harness_repo, "unrelated", patches={"0001-u.patch": patch_text("u")})
    return harness_repo


def test_round_trip(tmp_path: Path, repo: Path) -> None:
    results = write_results(
        tmp_path / "results" / "20261203-120000-xdp-meta",
        run_results({"t::a": "passed"}, inputs=_inputs()),
        {
            "console.log": "boot\n",
            "config": "CONFIG_NET=y\n",
            "guest-2/console.log": "guest 2\n",
            "junit.xml": "<testsuites/>",
        },
    )
    (results / "link").symlink_to("/etc/passwd")  # not a file of the results: left out
    path = bundle.write(results, repo)
    assert path == tmp_path / "results" / "results-20261203-120000-xdp-meta.tar.zst"
    assert path.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # zstd
    assert not list(path.parent.glob(".*part"))
    out = tmp_path / "out"
    out.mkdir()
    got = bundle.extract(path, out)
    assert got == out / "20261203-120000-xdp-meta"
    files = sorted(str(p.relative_to(got)) for p in got.rglob("*") if p.is_file())
    assert files == [
        "config",
        "console.log",
        "guest-2/console.log",
        "inputs/kernel-config/base.config",
        "inputs/kernel-config/xdp.config",
        "inputs/patches/baseline/series.toml",
        "inputs/patches/xdp-meta/0000-cover-letter.patch",
        "inputs/patches/xdp-meta/0001-x.patch",
        "inputs/patches/xdp-meta/series.toml",
        "junit.xml",
        "results.json",
    ]
    assert (got / "inputs/patches/xdp-meta/0001-x.patch").read_text() == (
        repo / "patches/xdp-meta/0001-x.patch"
    ).read_text()
    assert (got / "results.json").read_text() == (results / "results.json").read_text()


def test_open_results_unpacks_and_cleans_up(tmp_path: Path, repo: Path) -> None:
    results = write_results(tmp_path / "r" / "run-1", run_results({"t::a": "failed"}))
    path = bundle.write(results, repo, tmp_path / "elsewhere")
    with open_results(path) as loaded:
        assert loaded.data["tests"][0]["outcome"] == "failed"
        assert loaded.beside == tmp_path / "elsewhere"
        unpacked = loaded.directory
        assert unpacked.is_dir()
    assert not unpacked.exists()


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], mode: str = "w:xz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _file(name: str, data: bytes = b"{}") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([_file("run/results.json"), _file("run/../../evil")], "'run/../../evil': its path leaves"),
        ([_file("/etc/evil")], "'/etc/evil': its path leaves"),
        ([_file("../evil")], "'../evil': its path leaves"),
        (
            [_file("run/results.json"), _link("run/x", "/etc/passwd", tarfile.SYMTYPE)],
            "'run/x': not a regular file or directory",
        ),
        (
            [_file("run/results.json"), _link("run/h", "../../etc/passwd", tarfile.LNKTYPE)],
            "'run/h': not a regular file or directory",
        ),
        ([_file("a/results.json"), _file("b/results.json")], "one top directory"),
        ([_file("run/other.json")], "no run/results.json in it"),
        ([], "an empty archive"),
    ],
)
def test_unsafe_or_wrong_bundles_refused(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]], message: str
) -> None:
    path = _tar(tmp_path / "results-x.tar.xz", members)
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(BadBundle, match=re.escape(message)) as exc:
        bundle.extract(path, into)
    assert exc.value.exit_code == 2
    assert not (tmp_path / "evil").exists()
    assert not list(into.rglob("evil"))


def test_damaged_bundles(tmp_path: Path) -> None:
    broken = tmp_path / "results-x.tar.xz"
    broken.write_bytes(b"\xfd7zXZ\x00 not really")
    with pytest.raises(BadBundle, match="cannot unpack"):
        bundle.extract(broken, tmp_path)
    zst = tmp_path / "results-x.tar.zst"
    zst.write_bytes(b"(\xb5/\xfd and not a frame")
    with pytest.raises(BadBundle, match="cannot unpack"):
        bundle.extract(zst, tmp_path)


def test_an_older_xz_bundle_and_a_zstd_one_unpack_alike(tmp_path: Path) -> None:
    members = [_file("run/results.json", b"{}"), _file("run/console.log", b"boot")]
    xz = _tar(tmp_path / "results-run.tar.xz", members)
    plain = _tar(tmp_path / "plain.tar", members, mode="w")
    zst = tmp_path / "results-run.tar.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    for path in (xz, zst):
        into = tmp_path / path.name.replace(".", "-")
        into.mkdir()
        results = bundle.extract(path, into)
        assert (results / "console.log").read_bytes() == b"boot"
        assert sorted(p.name for p in into.iterdir()) == ["run"]  # the temporary tar is gone


def test_a_zstd_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle, "MAX_UNPACKED", 1 << 20)
    zst = tmp_path / "results-x.tar.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(bytes(8 << 20)))
    with pytest.raises(BadBundle, match="more than 1 MiB"):
        bundle.extract(zst, tmp_path)
