"""The hub's fault registry: which requests to break, how, and how many times."""

from __future__ import annotations

import threading
from typing import Literal

import anyio
import anyio.to_thread
import attrs

__all__ = ["Fault", "FaultKind", "FaultRegistry", "StallHandle"]

FaultKind = Literal["cut", "stall", "drip", "corrupt", "status", "ignore_range", "redirect_loop"]


class StallHandle:
    """A stall fault: the hub stops sending after ``after_bytes`` body bytes until released.

    ``release`` may be an :class:`anyio.Event` of the hub's own event loop; otherwise call
    :meth:`release` (from any thread). Unreleased stalls end when the hub shuts down.
    """

    def __init__(self, after_bytes: int, release: anyio.Event | None) -> None:
        self.after_bytes = after_bytes
        self._release_event = release
        self._reached = threading.Event()
        self._released = threading.Event()

    @property
    def reached(self) -> bool:
        return self._reached.is_set()

    def release(self) -> None:
        self._released.set()

    async def wait_reached(self) -> None:
        """Wait (from any event loop) until a response stalled here."""
        await anyio.to_thread.run_sync(self._reached.wait, abandon_on_cancel=True)

    def wait_reached_blocking(self, timeout: float | None = None) -> bool:
        return self._reached.wait(timeout)

    async def _hold(self) -> None:
        """Called by the router where the response stalls: wait for the release."""
        self._reached.set()
        if self._release_event is not None:
            await self._release_event.wait()
        else:
            await anyio.to_thread.run_sync(self._released.wait, abandon_on_cancel=True)


@attrs.define(kw_only=True)
class Fault:
    """One registered fault. ``key`` is a file (in-repo path or ``org/repo/path``) or a repo.

    ``after=N`` lets the first N matching requests through, then it fires ``times`` times
    (``None``: forever).
    """

    kind: FaultKind
    key: str
    times: int | None
    nbytes: int = 0
    code: int = 0
    abrupt: bool = False
    stall: StallHandle | None = None
    after: int = 0
    interval: float = 0.0
    """A drip's seconds between two bytes."""
    headers: dict[str, str] = attrs.field(factory=dict)
    """Extra response headers of a status fault (``Retry-After``)."""


class FaultRegistry:
    """Faults in the order they were added; thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._stalls: list[StallHandle] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError(f"times must be positive or None, got {fault.times}")
        if fault.after < 0:
            raise ValueError(f"after must not be negative, got {fault.after}")
        with self._lock:
            if fault.stall is not None:
                self._stalls.append(fault.stall)
            self._faults.append(fault)

    def take(self, kind: FaultKind, keys: tuple[str, ...]) -> Fault | None:
        """The first fault of ``kind`` for any of ``keys`` that fires now, counted down."""
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.key in keys:
                    if fault.after > 0:  # let this request through untouched
                        fault.after -= 1
                        continue
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        """Forget every fault and release every stall."""
        with self._lock:
            self._faults.clear()
        self.release_stalls()

    def release_stalls(self) -> None:
        with self._lock:
            stalls = list(self._stalls)
        for stall in stalls:
            stall.release()
