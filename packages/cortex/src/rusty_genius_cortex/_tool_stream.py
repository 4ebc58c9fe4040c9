"""Tool calls out of a stream of inference events: text in, text and call deltas out.

:class:`ToolCallFilter` sits between an engine's token pipeline and its consumer
when a request offers tools. Text that cannot be part of a call flows through as
it comes (a :class:`CallScanner` holds back only what may be one); at the end the
held text is parsed, each call is checked against its tool
(:meth:`OutputPlan.call_of`: a known name, arguments that validate), and the calls
are sent as OpenAI streams them: per call a :class:`ToolCallDelta` with its id and
name, then one with its arguments. ``Complete`` then says ``tool_calls``. A call
that fails its check turns the held text back into plain content, so every call
that leaves here is valid. Without parallel calls only the first call is sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import attrs

from rusty_genius_core import Complete, Content, FinishReason, ToolCallDelta

from ._tool_parse import CallScanner

if TYPE_CHECKING:
    from rusty_genius_core import InferenceEvent, ToolCall

    from ._output_plan import OutputPlan

__all__ = ["ToolCallFilter"]

log = logging.getLogger("rusty_genius_cortex.tools")


class ToolCallFilter:
    """Feeds events through; see the module doc. One per request."""

    def __init__(self, plan: OutputPlan) -> None:
        assert plan.style is not None
        self._plan = plan
        self._scanner = CallScanner(plan.style)
        self._text: list[str] = []
        self._shown = 0  # characters of the text sent on as content
        self._calls: list[ToolCall] = []

    def events(self, event: InferenceEvent) -> list[InferenceEvent]:
        """What to send for ``event`` (Content filtered, Complete preceded by the calls)."""
        if isinstance(event, Content):
            self._text.append(event.text)
            shown = self._scanner.feed(event.text)
            self._shown += len(shown)
            return [Content(text=shown)] if shown else []
        if isinstance(event, Complete):
            return [*self._finish(event.usage.finish_reason), self._complete(event)]
        return [event]

    def _finish(self, reason: FinishReason) -> list[InferenceEvent]:
        text, parsed = self._scanner.finish()
        calls = [self._plan.call_of(p) for p in parsed]
        if parsed and (reason is not FinishReason.STOP or None in calls):
            # Cut short, or a call the tools refuse: the held text was text after all.
            log.info("tool call text kept as content (finish %s): %r", reason, parsed)
            text, calls = "".join(self._text)[self._shown :], []
        self._calls = [c for c in calls if c is not None]
        if not self._plan.parallel and len(self._calls) > 1:
            dropped = len(self._calls) - 1
            log.info("parallel_tool_calls off: %d calls after the first dropped", dropped)
            del self._calls[1:]
        out: list[InferenceEvent] = [Content(text=text)] if text else []
        for i, call in enumerate(self._calls):
            out.append(ToolCallDelta(index=i, id=call.id, name=call.name))
            out.append(ToolCallDelta(index=i, arguments=call.arguments))
        return out

    def _complete(self, event: Complete) -> Complete:
        if not self._calls:
            return event
        usage = attrs.evolve(event.usage, finish_reason=FinishReason.TOOL_CALLS)
        return attrs.evolve(event, usage=usage)
