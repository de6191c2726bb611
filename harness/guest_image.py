"""The guest's userspace: the host's own root (vng's default) or the pinned root
filesystem vm-images/build-rootfs.sh builds (``--image DIR``), and where the guest
finds the host paths a run hands it in each case.

With an image the guest sees only the image and what is mounted into it, at mount
points the image has made beforehand (its root is read-only): the checkout, the
results directory of that guest and the stack's cache directory (kernel tree, build
directory with the tools built from it, BPF objects). A host path outside those is
not visible there, so translating one is a harness bug, raised as such.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfraError, UsageError
from harness.vm import Mount

IMAGE_ENV = "XDP_HARNESS_IMAGE"
MANIFEST = "etc/xdp-harness-image.json"
VENV_PYTHON = "/opt/xdp-harness/venv/bin/python"
GUEST_REPO = "/opt/xdp-harness/repo"
GUEST_RESULTS = "/opt/xdp-harness/results"
GUEST_STACK = "/opt/xdp-harness/stack"
MOUNTPOINTS = (GUEST_REPO, GUEST_RESULTS, GUEST_STACK)
BUILD_HINT = "build it with: vm-images/build-rootfs.sh DIR (as root; about a minute)"


@dataclass(frozen=True)
class GuestImage:
    """A finished vm-images root filesystem."""

    root: Path
    image_id: str
    libdirs: tuple[Path, ...]
    glibc: tuple[int, ...] | None = None  # its libc6 version, from the manifest

    @classmethod
    def load(cls, root: Path) -> GuestImage:
        """The image in ``root``, checked to be one build-rootfs.sh finished, with the
        mount points this harness uses; else a UsageError naming what is missing."""
        root = root.expanduser().resolve()
        if not root.is_dir():
            raise UsageError(f"guest image {root} does not exist", BUILD_HINT)
        manifest = root / MANIFEST
        try:
            data = json.loads(manifest.read_text())
            image_id = str(data["image_id"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{root} is not a guest image: no readable {MANIFEST} with an image_id ({exc})",
                BUILD_HINT,
            ) from exc
        if not (root / VENV_PYTHON.lstrip("/")).exists():
            raise UsageError(f"guest image {root} has no {VENV_PYTHON}", BUILD_HINT)
        missing = [m for m in MOUNTPOINTS if not (root / m.lstrip("/")).is_dir()]
        if missing:
            raise UsageError(
                f"guest image {root} ({image_id}) lacks the mount point(s) "
                f"{', '.join(missing)} this harness mounts into",
                f"rebuild it with this checkout's script: FORCE=1 vm-images/build-rootfs.sh {root} "
                "(as root, about a minute)",
            )
        libdirs = tuple(
            root / d
            for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib")
            if (root / d).is_dir()
        )
        libc6 = str(((data.get("debian") or {}).get("packages") or {}).get("libc6", ""))
        return cls(root, image_id, libdirs, _version(libc6.split("-", maxsplit=1)[0]))

    def missing_libraries(self, needed: Iterable[str]) -> list[str]:
        """Those of the shared libraries ``needed`` (an ELF's DT_NEEDED names) the
        image does not have."""
        return sorted({n for n in needed if not any((d / n).exists() for d in self.libdirs)})

    def missing(self, binary: Path) -> list[str]:
        """What ``binary`` needs and the image lacks: shared libraries, and a glibc
        symbol version newer than the image's glibc (a tool built on a newer host)."""
        needs = elf_needs(binary)
        gone = self.missing_libraries(needs.libraries)
        if self.glibc is not None and needs.glibc is not None and needs.glibc > self.glibc:
            have = ".".join(map(str, self.glibc))
            gone.append(f"GLIBC_{'.'.join(map(str, needs.glibc))} (the image's glibc is {have})")
        return gone


def _version(text: str) -> tuple[int, ...] | None:
    parts = re.match(r"\d+(?:\.\d+)*", text)
    return tuple(int(p) for p in parts.group(0).split(".")) if parts else None


@dataclass(frozen=True)
class ElfNeeds:
    libraries: list[str]  # DT_NEEDED
    glibc: tuple[int, ...] | None  # the newest GLIBC_x.y symbol version it needs


_NEEDED = re.compile(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")
_GLIBC = re.compile(r"Name: GLIBC_(\d+(?:\.\d+)*)\b")


def elf_needs(binary: Path) -> ElfNeeds:
    """The shared libraries an ELF file names (DT_NEEDED) and the newest glibc
    symbol version it needs, by binutils' readelf; nothing for a script or a static
    binary."""
    try:
        proc = subprocess.run(
            ["readelf", "-d", "-V", "-W", str(binary)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfraError(f"readelf -d {binary}: {exc}", "install binutils") from exc
    versions = [v for m in _GLIBC.findall(proc.stdout) if (v := _version(m)) is not None]
    return ElfNeeds(_NEEDED.findall(proc.stdout), max(versions) if versions else None)


def check_libraries(image: GuestImage, tools: Mapping[str, Path]) -> None:
    """Refuse (exit 2) to boot ``image`` when a tool built for the run needs a shared
    library, or a glibc, the image lacks: it would fail in the guest ("not found",
    "version `GLIBC_2.38' not found") as failed tests."""
    missing = {name: gone for name, path in sorted(tools.items()) if (gone := image.missing(path))}
    if missing:
        raise UsageError(
            f"guest image {image.root} ({image.image_id}) lacks what the run's tools need: "
            + "; ".join(f"{name} needs {', '.join(libs)}" for name, libs in missing.items()),
            "a library: add the Debian package that ships it to PACKAGES in "
            "vm-images/build-rootfs.sh and rebuild the image (apt-file search LIB names it); "
            "a newer glibc: the tools were built on a host newer than the image's Debian "
            "(build on Debian 12, or boot the host's root: --no-image)",
        )


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "xdp-harness" / "config.toml"


def default_image(environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The image to boot when the command line names none, and where that came from:
    $XDP_HARNESS_IMAGE, else ``image = "DIR"`` in ~/.config/xdp-harness/config.toml,
    else none (the host's root)."""
    env = os.environ if environ is None else environ
    if env.get(IMAGE_ENV):
        return Path(env[IMAGE_ENV]), f"${IMAGE_ENV}"
    path = config_path(env)
    if not path.is_file():
        return None, ""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: {exc}", "fix the file, or remove it") from exc
    image = data.get("image")
    if image is None:
        return None, ""
    if not isinstance(image, str) or not image:
        raise UsageError(f"{path}: image must be a path, got {image!r}", 'write image = "DIR"')
    return Path(image), str(path)


@dataclass(frozen=True)
class GuestView:
    """How one guest sees the host: its root, its mounts, the python that runs the
    guest side, and the host paths it is handed, translated."""

    python: str
    mounts: tuple[Mount, ...]
    cwd: Path  # vng --cwd: a host path (inside the image when there is one)
    image: GuestImage | None = None

    def path(self, host: Path | str) -> str:
        p = Path(host)
        if self.image is None:
            return str(p)
        for m in sorted(self.mounts, key=lambda m: len(m.host.parts), reverse=True):
            if p == m.host or m.host in p.parents:
                return str(Path(m.guest) / p.relative_to(m.host))
        raise InfraError(
            f"{p} is not visible in guest image {self.image.image_id}: not under any of "
            + ", ".join(str(m.host) for m in self.mounts),
            "a harness bug: report it with this message",
        )


def host_view(repo: Path, writable: Path | None) -> GuestView:
    """The host's root, read-only, with ``writable`` (a results directory) writable."""
    mounts = () if writable is None else (Mount(writable, str(writable), True),)
    return GuestView(sys.executable, mounts, repo)


def image_view(image: GuestImage, repo: Path, writable: Path | None, stack: Path) -> GuestView:
    mounts = [Mount(repo, GUEST_REPO, False), Mount(stack, GUEST_STACK, False)]
    if writable is not None:
        mounts.append(Mount(writable, GUEST_RESULTS, True))
    return GuestView(VENV_PYTHON, tuple(mounts), image.root / GUEST_REPO.lstrip("/"), image)
