"""Read /proc/self/fdinfo/<fd>: what the kernel says about a program or map fd.

kernel/bpf/syscall.c prints one ``key:\\tvalue`` line per field
(bpf_prog_show_fdinfo(), bpf_map_show_fdinfo()); a key the kernel did not
print is absent, which is how optional fields are told apart from zero.
"""

from __future__ import annotations

from pathlib import Path


def fdinfo(fd: int) -> dict[str, list[str]]:
    """Every line of the fd's fdinfo as key -> the values printed for it, in order.

    A list, so that a key printed twice shows up as such instead of being
    silently overwritten.
    """
    out: dict[str, list[str]] = {}
    for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key, []).append(value.strip())
    return out


def fdinfo_values(fd: int, key: str) -> list[str]:
    """The values of every ``key:`` line of the fd's fdinfo (none: [])."""
    return fdinfo(fd).get(key, [])
