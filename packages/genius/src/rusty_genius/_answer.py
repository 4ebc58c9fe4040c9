"""A whole answer, collected from the events of one request."""

from __future__ import annotations

import json
from typing import Any

import attrs

from rusty_genius_core import (
    Complete,
    Content,
    FinishReason,
    InferenceEvent,
    ProcessStart,
    ProtocolError,
    Thought,
    ThoughtDelta,
    ToolCall,
    ToolCallCollector,
    ToolCallDelta,
    Usage,
)
from rusty_genius_core._record import Record

__all__ = ["Answer", "AnswerBuilder"]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Answer(Record):
    """What :meth:`Genius.chat` and :meth:`Genius.complete` return.

    ``thought`` is the text of the model's ``<think>`` blocks (empty when it had none
    or ``show_thinking`` was off), ``content`` the answer proper. A cancelled request
    still returns what arrived, with ``finish_reason == "cancelled"``. ``tool_calls``
    are the calls the model made (``finish_reason == "tool_calls"``); :meth:`json`
    parses a JSON answer (one asked for with ``response_format``).
    """

    model: str
    content: str
    thought: str = ""
    usage: Usage = attrs.field(factory=Usage)
    cold: bool = False
    tool_calls: tuple[ToolCall, ...] = ()

    def json(self) -> Any:
        """``content`` parsed as JSON, or :class:`~rusty_genius_core.ProtocolError`."""
        try:
            return json.loads(self.content)
        except ValueError as exc:
            cut = " (the answer was cut by max_tokens)" if self.finish_reason == "length" else ""
            raise ProtocolError(f"the answer is not JSON{cut}: {exc}") from None

    @property
    def finish_reason(self) -> FinishReason:
        return self.usage.finish_reason

    def __str__(self) -> str:
        return self.content


class AnswerBuilder:
    """Accumulates events into an :class:`Answer`; ``feed`` each, then ``build``."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._cold = False
        self._content: list[str] = []
        self._thought: list[str] = []
        self._usage: Usage | None = None
        self._calls = ToolCallCollector()

    def feed(self, event: InferenceEvent) -> None:
        if isinstance(event, ProcessStart):
            self._model = event.model or self._model
            self._cold = event.cold
        elif isinstance(event, Content):
            self._content.append(event.text)
        elif isinstance(event, Thought):
            if isinstance(event.event, ThoughtDelta):
                self._thought.append(event.event.text)
        elif isinstance(event, ToolCallDelta):
            self._calls.add(event)
        elif isinstance(event, Complete):
            self._usage = event.usage

    @property
    def complete(self) -> bool:
        return self._usage is not None

    def build(self) -> Answer:
        return Answer(
            model=self._model,
            content="".join(self._content),
            thought="".join(self._thought),
            usage=self._usage if self._usage is not None else Usage(),
            cold=self._cold,
            tool_calls=self._tool_calls(),
        )

    def _tool_calls(self) -> tuple[ToolCall, ...]:
        if not self._calls:
            return ()
        if self._usage is not None and self._usage.finish_reason is not FinishReason.TOOL_CALLS:
            try:  # cut short (max_tokens, cancelled): keep the calls that did finish
                return self._calls.calls()
            except ProtocolError:
                return ()
        return self._calls.calls()
