"""A progress callback for tests: it keeps what it is given."""

from __future__ import annotations

from typing import TypeVar

__all__ = ["EventLog"]

T = TypeVar("T")


class EventLog(list[T]):
    """The events an async callback was given, in order; pass the log as the callback.

    ``events = EventLog[AssetEvent]()`` then ``ensure_model(ref, progress=events)``.
    """

    async def __call__(self, event: T) -> None:
        self.append(event)
