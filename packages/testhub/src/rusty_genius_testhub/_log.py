"""The hub's request log: one record per request, and the questions tests ask of it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RequestKind", "RequestLog", "RequestRecord"]

RequestKind = Literal["tree", "model_info", "resolve", "cdn", "other"]


@attrs.define(kw_only=True)
class RequestRecord:
    """One request the hub received; ``body_bytes`` grows while the body is sent."""

    method: str
    target: str
    path: str
    kind: RequestKind
    headers: dict[str, str]
    repo: str | None = None
    file: str | None = None
    status: int | None = None
    body_bytes: int = 0
    completed: bool = False
    """The whole response went out (false when a fault cut it or the client left)."""

    @property
    def range(self) -> str | None:
        return self.headers.get("range")

    def matches_file(self, key: str) -> bool:
        return self.file is not None and key in (self.file, f"{self.repo}/{self.file}")


class RequestLog:
    """Records in arrival order; thread-safe, and waitable on every new request or update."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._cond = threading.Condition(threading.RLock())

    def add(self, record: RequestRecord) -> None:
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    def update(
        self, record: RequestRecord, *, status: int | None = None, completed: bool = False
    ) -> None:
        """Set the record's ``status`` (if given) or mark it ``completed``; wakes waiters."""
        with self._cond:
            if status is not None:
                record.status = status
            if completed:
                record.completed = True
            self._cond.notify_all()

    def count_body(self, record: RequestRecord, n: int) -> None:
        with self._cond:
            record.body_bytes += n

    def snapshot(self) -> list[RequestRecord]:
        with self._cond:
            return [attrs.evolve(r, headers=dict(r.headers)) for r in self._records]

    def count(self, method: str | None, kind: RequestKind | None, file: str | None) -> int:
        with self._cond:
            return sum(
                1
                for r in self._records
                if (method is None or r.method == method)
                and (kind is None or r.kind == kind)
                and (file is None or r.matches_file(file))
            )

    def bytes_served(self, file: str | None) -> int:
        with self._cond:
            return sum(r.body_bytes for r in self._records if file is None or r.matches_file(file))

    def body_requests(self, file: str) -> list[RequestRecord]:
        return [
            r
            for r in self.snapshot()
            if r.method == "GET" and r.status in (200, 206) and r.matches_file(file)
        ]

    def ranges_seen(self, file: str) -> list[str | None]:
        return [
            r.range
            for r in self.snapshot()
            if r.method == "GET"
            and r.matches_file(file)
            and r.kind in ("resolve", "cdn")
            and r.status != 302
        ]

    def clear(self) -> None:
        with self._cond:
            self._records.clear()

    def wait_blocking(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Block until ``predicate()`` holds, checked on every request and update."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
