"""Record tracepoint events in a private tracefs instance.

An instance (``instances/<name>``) has its own ring buffer and event enables,
so a test sees only what happened while it was recording and leaves the
global trace buffer alone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from xdplib.closing import Closing

TRACEFS = Path("/sys/kernel/tracing")

_LINE = re.compile(r"\s(?P<event>\w+):\s(?P<body>.*)$")
_FIELD = re.compile(r"(\w+)=(\S+)")


@dataclass(frozen=True)
class TraceEvent:
    event: str
    fields: dict[str, str]
    line: str


class TraceInstance(Closing):
    """``with TraceInstance("name", ["xdp/xdp_exception"]) as t: ...; t.events()``"""

    def __init__(self, name: str, events: list[str], root: Path = TRACEFS) -> None:
        self.dir = root / "instances" / f"{name}-{os.getpid()}"
        self.events_enabled = list(events)
        self.dir.mkdir()
        try:
            (self.dir / "trace").write_text("")
            for ev in self.events_enabled:
                (self.dir / "events" / ev / "enable").write_text("1\n")
        except BaseException:
            self.close()
            raise

    def events(self, name: str | None = None) -> list[TraceEvent]:
        """Parse the buffer; with ``name`` only events of that name."""
        out = []
        for line in (self.dir / "trace").read_text().splitlines():
            if line.startswith("#"):
                continue
            m = _LINE.search(line)
            if not m:
                continue
            if name is not None and m["event"] != name:
                continue
            out.append(TraceEvent(m["event"], dict(_FIELD.findall(m["body"])), line))
        return out

    def close(self) -> None:
        if not self.dir.exists():
            return
        for ev in self.events_enabled:
            enable = self.dir / "events" / ev / "enable"
            if enable.exists():
                enable.write_text("0\n")
        self.dir.rmdir()
