"""``with obj:`` for the helpers that hold a kernel resource (a socket, an fd, a
tracefs instance): the block's end closes it, whatever ended the block."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """A base for classes with ``close()``: ``__enter__`` gives the object,
    ``__exit__`` closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
