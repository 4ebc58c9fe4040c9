"""From generated text to events: stop strings, the think parser and usage, in that order.

Every engine feeds the text of each generated token to one
:class:`TokenPipeline` per request, so the stub and the real engine share the
exact path from text to :data:`~rusty_genius_core.InferenceEvent`. Stop strings
apply to the raw text, tags included, as llama.cpp applies them; the text
before a stop string is emitted and the stop string itself is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rusty_genius_core import Complete, FinishReason, InferenceConfig, InferenceEvent

from ._think import ThinkParser

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._usage import UsageMeter

__all__ = ["StopMatcher", "TokenPipeline"]


class StopMatcher:
    """Find the first stop string in streamed text, holding back only a possible stop prefix.

    "First" is the stop string that completes first in the stream (the earliest end;
    on a tie the one that starts earlier), the only rule that does not depend on how
    the text is cut into tokens. The output ends where that stop string begins.

    Each call looks at the new text plus a held tail shorter than the longest
    stop string, so the cost per token stays bounded.
    """

    __slots__ = ("_held", "_longest", "_stops")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in dict.fromkeys(stops) if s)
        self._longest = max((len(s) for s in self._stops), default=0)
        self._held = ""

    @property
    def active(self) -> bool:
        """Whether there is any stop string to look for."""
        return bool(self._stops)

    def feed(self, text: str) -> tuple[str, bool]:
        """Return the text that is safe to emit and whether a stop string was hit."""
        if not self._stops:
            return text, False
        s = self._held + text if self._held else text
        best: tuple[int, int] | None = None  # (end, start) of the stop that completes first
        for stop in self._stops:
            at = s.find(stop)
            if at != -1 and (best is None or (at + len(stop), at) < best):
                best = (at + len(stop), at)
        if best is not None:
            self._held = ""
            return s[: best[1]], True
        keep = 0
        for k in range(min(len(s), self._longest - 1), 0, -1):
            tail = s[-k:]
            if any(stop.startswith(tail) for stop in self._stops):
                keep = k
                break
        if keep:
            self._held = s[-keep:]
            return s[:-keep], False
        self._held = ""
        return s, False

    def flush(self) -> str:
        """Text held back as a possible stop prefix, released at the end of output."""
        held, self._held = self._held, ""
        return held


class TokenPipeline:
    """One request's path from token text to events, shared by every engine.

    Call :meth:`token` once per generated token (it counts the token), then
    :meth:`complete` once with the finish reason; it flushes what the stop
    matcher and the think parser held back and appends the :class:`Complete`.
    """

    __slots__ = ("_max_tokens", "_parser", "_stopping", "_stops", "meter")

    def __init__(
        self,
        config: InferenceConfig,
        *,
        meter: UsageMeter,
        start_in_thinking: bool = False,
        extra_stops: Sequence[str] = (),
    ) -> None:
        self.meter = meter
        self._max_tokens = config.max_tokens
        self._stops = StopMatcher((*config.stop, *extra_stops))
        self._stopping = self._stops.active
        self._parser = ThinkParser(
            show_thinking=config.show_thinking, start_in_thinking=start_in_thinking
        )

    @property
    def at_max_tokens(self) -> bool:
        return self.meter.completion_tokens >= self._max_tokens

    def token(self, text: str) -> tuple[list[InferenceEvent], bool]:
        """Count one token with text ``text``; return its events and whether a stop string hit."""
        self.meter.token()
        if not self._stopping:  # no stop strings: the text is visible as it comes
            return (self._parser.feed(text) if text else []), False
        visible, hit = self._stops.feed(text)
        return (self._parser.feed(visible) if visible else []), hit

    def text(self, text: str) -> list[InferenceEvent]:
        """Text that belongs to no new token (a decoder's flush); a stop string here is moot."""
        visible, _ = self._stops.feed(text)
        return self._parser.feed(visible) if visible else []

    def complete(self, reason: FinishReason) -> list[InferenceEvent]:
        """Flush held-back text, close an open thought and end with :class:`Complete`."""
        events: list[InferenceEvent] = []
        tail = self._stops.flush()
        if tail:
            events.extend(self._parser.feed(tail))
        events.extend(self._parser.finish())
        events.append(Complete(usage=self.meter.usage(reason)))
        return events
