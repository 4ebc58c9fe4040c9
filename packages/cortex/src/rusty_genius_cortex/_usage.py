"""Usage accounting shared by every engine, so Pinky and llama.cpp report alike.

One :class:`UsageMeter` follows one request through its phases and builds the
core :class:`~rusty_genius_core.Usage` at the end. Definitions (seconds, from
``time.perf_counter`` unless a clock is injected):

* ``time_to_first_token``: request accepted → first completion token produced
  (queueing behind another request, templating and prompt evaluation included);
  ``None`` when no token was produced.
* ``prompt_duration``: prompt evaluation, :meth:`UsageMeter.prompt_started` →
  :meth:`UsageMeter.prompt_done` (the first sample, which needs the whole prompt).
* ``decode_duration``: first completion token → last completion token.
* ``decode_tokens_per_second``: ``(completion_tokens - 1) / decode_duration``,
  the steady decode rate after the first token; ``0.0`` with fewer than two tokens.
* ``load_duration``: the load this request paid for (the first request after a
  load reports it, later ones report ``0.0``), as Ollama reports it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rusty_genius_core import FinishReason, Usage

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["UsageMeter"]


class UsageMeter:
    """Timestamps and token counts of one request; not thread-safe (one writer)."""

    __slots__ = (
        "_clock",
        "_completion_tokens",
        "_load_duration",
        "_prompt_tokens",
        "_t_first",
        "_t_last",
        "_t_prompt_done",
        "_t_prompt_start",
        "_t_request",
    )

    def __init__(
        self,
        *,
        load_duration: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._clock = clock
        self._load_duration = max(0.0, load_duration)
        self._t_request = clock()
        self._t_prompt_start: float | None = None
        self._t_prompt_done: float | None = None
        self._t_first: float | None = None
        self._t_last: float | None = None
        self._prompt_tokens = 0
        self._completion_tokens = 0

    @property
    def load_duration(self) -> float:
        return self._load_duration

    @load_duration.setter
    def load_duration(self, seconds: float) -> None:
        """Charge this request with a load it waited for (known only once it has its turn)."""
        self._load_duration = max(0.0, seconds)

    @property
    def completion_tokens(self) -> int:
        return self._completion_tokens

    @property
    def prompt_tokens(self) -> int:
        return self._prompt_tokens

    def prompt_started(self, prompt_tokens: int) -> None:
        """The engine begins evaluating a prompt of ``prompt_tokens`` tokens."""
        self._prompt_tokens = prompt_tokens
        self._t_prompt_start = self._clock()

    def prompt_done(self) -> None:
        """The first sample came back, so the prompt is evaluated (idempotent)."""
        if self._t_prompt_done is None:
            self._t_prompt_done = self._clock()

    def token(self) -> None:
        """One completion token was produced."""
        now = self._t_last = self._clock()
        self._completion_tokens += 1
        if self._t_first is None:
            self._t_first = now
            if self._t_prompt_done is None:
                self._t_prompt_done = now

    def usage(self, finish_reason: FinishReason) -> Usage:
        """The request's :class:`Usage`, as of now."""
        now = self._clock()
        prompt_duration = 0.0
        if self._t_prompt_start is not None:
            end = self._t_prompt_done if self._t_prompt_done is not None else now
            prompt_duration = max(0.0, end - self._t_prompt_start)
        ttft = None
        decode = 0.0
        rate = 0.0
        if self._t_first is not None and self._t_last is not None:
            ttft = max(0.0, self._t_first - self._t_request)
            decode = max(0.0, self._t_last - self._t_first)
            if self._completion_tokens > 1 and decode > 0.0:
                rate = (self._completion_tokens - 1) / decode
        return Usage(
            prompt_tokens=self._prompt_tokens,
            completion_tokens=self._completion_tokens,
            time_to_first_token=ttft,
            load_duration=self._load_duration,
            prompt_duration=prompt_duration,
            decode_duration=decode,
            decode_tokens_per_second=rate,
            finish_reason=finish_reason,
        )
