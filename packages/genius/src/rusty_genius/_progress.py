"""Download progress for a terminal (one redrawn bar) or a log (a line per tenth).

Speed is measured over the last few seconds of progress events, so bytes kept from
an earlier, cut download (the first event of a resumed transfer) do not inflate it.
"""

from __future__ import annotations

import collections
import math
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TextIO

import attrs

from rusty_genius_core import AssetComplete, AssetFailed, AssetProgress, AssetStarted

if TYPE_CHECKING:
    from rusty_genius_core import AssetEvent

__all__ = ["ProgressBar", "format_duration", "format_size"]

_WINDOW: Final = 3.0  # seconds of samples the speed is measured over
_REDRAW: Final = 0.1  # seconds between terminal redraws
_UNITS: Final = ("B", "kB", "MB", "GB", "TB")
_UNKNOWN_STEP: Final = 10_000_000


def format_size(n: float) -> str:
    """Bytes in decimal units, as the Hugging Face hub shows sizes: ``98.4 MB``."""
    for unit in _UNITS:
        if abs(n) < 1000 or unit == _UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``; ``--:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _File:
    def __init__(self, name: str, total: int | None, now: float) -> None:
        self.name = name
        self.total = total
        self.done = 0
        self.started = now
        self.first_done: int | None = None
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.last_draw = -math.inf
        self.last_tenth = -1

    def record(self, done: int, now: float) -> None:
        if self.first_done is None:
            self.first_done = done
        self.done = done
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > _WINDOW:
            self.samples.popleft()

    @property
    def speed(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None

    @property
    def eta(self) -> float | None:
        if self.total is not None and self.done >= self.total:
            return 0.0
        speed = self.speed
        if self.total is None or not speed:
            return None
        return max(0, self.total - self.done) / speed


@attrs.define(eq=False, repr=False)
class ProgressBar:
    """Renders :data:`AssetEvent` s on ``stream``; ``tty`` picks the redrawn bar.

    ``quiet_cached`` says nothing when a model was already local (``run`` and ``chat``
    only mention downloads; ``pull`` confirms either way).
    """

    _stream: TextIO
    _tty: bool = attrs.field(kw_only=True)
    _clock: Callable[[], float] = attrs.field(default=time.monotonic, kw_only=True)
    _width: int | None = attrs.field(default=None, kw_only=True)
    _quiet_cached: bool = attrs.field(default=False, kw_only=True)
    _file: _File | None = attrs.field(default=None, init=False)
    _drawn: bool = attrs.field(default=False, init=False)
    _fill: str = attrs.field(init=False)
    _empty: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        encoding = (getattr(self._stream, "encoding", None) or "ascii").lower()
        self._fill, self._empty = ("█", "░") if "utf" in encoding else ("#", "-")

    def event(self, event: AssetEvent) -> None:
        now = self._clock()
        if isinstance(event, AssetStarted):
            self._end_line()
            self._file = _File(event.filename, event.total, now)
            if not self._tty:
                size = format_size(event.total) if event.total is not None else "unknown size"
                self._line(f"downloading {event.filename} ({size})")
        elif isinstance(event, AssetProgress):
            file = self._file
            if file is None or file.name != event.filename:
                file = self._file = _File(event.filename, event.total, now)
            file.total = event.total if event.total is not None else file.total
            file.record(event.done, now)
            self._show(file, now, final=file.total is not None and event.done >= file.total)
        elif isinstance(event, AssetComplete):
            file = self._file
            self._end_line()
            if event.cached:
                if not self._quiet_cached:
                    self._line(f"{event.reference} is already downloaded: {event.path}")
            else:
                took = now - file.started if file is not None else 0.0
                size = f" {format_size(file.done)}" if file is not None else ""
                self._line(f"pulled {event.reference}{size} in {took:.1f} s: {event.path}")
            self._file = None
        elif isinstance(event, AssetFailed):
            self._end_line()
            self._file = None

    def close(self) -> None:
        self._end_line()

    # -- rendering ------------------------------------------------------------------------

    def _status(self, file: _File) -> str:
        speed = file.speed
        rate = f"{format_size(speed)}/s" if speed is not None else "-- B/s"
        if file.total:
            pct = 100.0 * file.done / file.total
            size = f"{format_size(file.done)}/{format_size(file.total)}"
            return f"{pct:3.0f}% {size}  {rate}  ETA {format_duration(file.eta)}"
        return f"{format_size(file.done)}  {rate}"

    def _show(self, file: _File, now: float, *, final: bool) -> None:
        if self._tty:
            if final or now - file.last_draw >= _REDRAW:
                file.last_draw = now
                self._draw(file)
            return
        # A line per tenth of the file, or per 10 MB when the size is unknown.
        tenth = int(10 * file.done / file.total) if file.total else file.done // _UNKNOWN_STEP
        if final or tenth > file.last_tenth:
            file.last_tenth = tenth
            self._line(f"{file.name}: {self._status(file)}")

    def _draw(self, file: _File) -> None:
        status = self._status(file)
        columns = self._width or shutil.get_terminal_size((100, 20)).columns
        name = file.name if len(file.name) <= 32 else file.name[:31] + "…"
        room = columns - len(name) - len(status) - 5
        bar = ""
        if file.total and room >= 10:
            cells = min(room, 30)
            full = min(cells, int(cells * file.done / file.total))
            bar = f" {self._fill * full}{self._empty * (cells - full)}"
        self._stream.write(f"\r\x1b[K{name}{bar} {status}")
        self._stream.flush()
        self._drawn = True

    def _end_line(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False

    def _line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()
