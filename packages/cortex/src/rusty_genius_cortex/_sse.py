"""Server-sent events from arbitrary byte chunks, decoded by httpx-sse.

:class:`SSEDecoder` feeds the bytes of a response, as they arrive, through an
incremental UTF-8 decoder and httpx-sse's line and event decoders (the WHATWG
rules: lines end in ``\\n``, ``\\r\\n`` or ``\\r``; the ``data:`` lines of one
event are joined with ``\\n``; comments and other fields are skipped; a blank
line dispatches), and returns each event's ``data``. Two rules are added here: a
line longer than ``max_event_bytes`` is an error (a server cannot make the
client buffer without bound), and a last event without its blank line still
counts when the stream ends.

The remote engine reads the response's bytes itself rather than through
``httpx_sse.EventSource.aiter_sse()``, because it must bound each wait by the
stop signal and close a response it leaves early; httpx-sse's public API has no
byte-level decoder, so its two decoder classes are imported from their module.
"""

from __future__ import annotations

import codecs
from typing import Final

from httpx_sse._decoders import SSEDecoder as _EventDecoder
from httpx_sse._decoders import SSELineDecoder as _LineDecoder

from rusty_genius_core import EngineError

__all__ = ["MAX_EVENT_BYTES", "SSEDecoder"]

MAX_EVENT_BYTES: Final = 4 * 1024 * 1024


class SSEDecoder:
    """The ``data`` of each server-sent event in a byte stream fed in arbitrary chunks."""

    __slots__ = ("_events", "_lines", "_max", "_pending", "_text")

    def __init__(self, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._lines = _LineDecoder()
        self._events = _EventDecoder()
        self._max = max_event_bytes
        self._pending = 0  # characters of the line not yet ended

    def feed(self, chunk: bytes) -> list[str]:
        """The events that ``chunk`` completes."""
        text = self._text.decode(chunk)
        if not text:
            return []
        end = max(text.rfind("\n"), text.rfind("\r"))
        self._pending = len(text) - end - 1 if end >= 0 else self._pending + len(text)
        if self._pending > self._max:
            raise EngineError(f"a server-sent event line exceeds {self._max} bytes")
        return self._dispatch(self._lines.decode(text))

    def close(self) -> list[str]:
        """Flush at the end of the stream: a last event without its blank line still counts."""
        tail = self._text.decode(b"", final=True)
        lines = self._lines.decode(tail) if tail else []
        return self._dispatch([*lines, *self._lines.flush(), ""])

    def _dispatch(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        for line in lines:
            event = self._events.decode(line)
            # Without data there is nothing to read (httpx-sse also dispatches events that only
            # set an id, and, once an id was seen, every further blank line).
            if event is not None and event.data:
                out.append(event.data)
        return out
