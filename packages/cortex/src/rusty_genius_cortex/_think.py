"""The streaming ``<think>`` state machine every engine pushes its text through.

Reasoning models wrap their chain of thought in ``<think>…</think>``. Tokens cut
those tags anywhere (``"<th"`` + ``"ink>"``), so the parser holds back only the
longest tail of the text seen so far that could still become a tag, and emits
everything before it at once. Each character is looked at a bounded number of
times, so the cost per token does not grow with the length of the answer.

Rules (the same, by construction, for any split of the text into chunks):

* ``<think>`` in content opens a thought: ``Thought(ThoughtStart())``; the text up
  to ``</think>`` becomes ``Thought(ThoughtDelta(text))``; ``</think>`` emits
  ``Thought(ThoughtStop())``. Everything else is ``Content(text)``.
* Whitespace is trimmed where reasoning parsers trim it: right after ``<think>``,
  right before ``</think>`` and right after ``</think>``. Templates and models
  write ``<think>\\n…\\n</think>\\n\\n``; the newlines are layout, not text. All
  other whitespace passes through untouched.
* ``start_in_thinking=True`` is for prompts whose template already opened the
  block (the prompt ends in ``<think>``): the output starts inside a thought.
* Output that ends inside a thought (truncated by ``max_tokens``, a stop string
  or cancellation) closes it: :meth:`ThinkParser.finish` emits ``ThoughtStop``
  and no content. A ``</think>`` cut off there (``"</thi"``, two characters or
  more) is markup, not thought text, and is dropped with the whitespace before it.
* A stray ``</think>`` in content (no block open) is dropped, as is the
  whitespace after it: it is markup the model meant to close a block with, so
  it is never shown as text. ``<think>`` inside a thought is thought text.
* ``show_thinking=False`` drops every thought event; thoughts never leak into
  content.
* Adjacent text of one kind produced by one call is merged into one event.
"""

from __future__ import annotations

from typing import Final

from rusty_genius_core import (
    Content,
    InferenceEvent,
    Thought,
    ThoughtDelta,
    ThoughtStart,
    ThoughtStop,
)

__all__ = ["THINK_CLOSE", "THINK_OPEN", "ThinkParser", "prompt_opens_thinking"]

THINK_OPEN: Final = "<think>"
THINK_CLOSE: Final = "</think>"

_CONTENT_TAGS: Final = (THINK_OPEN, THINK_CLOSE)
_THOUGHT_TAGS: Final = (THINK_CLOSE,)
_START: Final = Thought(event=ThoughtStart())
_STOP: Final = Thought(event=ThoughtStop())


def _is_cut_close(tail: str) -> bool:
    """A held-back tail that can only be the start of a ``</think>`` the output never finished."""
    return len(tail) >= 2 and THINK_CLOSE.startswith(tail)


def prompt_opens_thinking(prompt: str) -> bool:
    """True when the prompt (a rendered chat template) ends inside an open ``<think>`` block."""
    return prompt.rstrip().endswith(THINK_OPEN)


class ThinkParser:
    """Split streamed model text into thought and content events.

    ``feed`` takes the next piece of text and returns the events it completes;
    ``finish`` flushes what was held back and closes an open thought. One parser
    serves one request; it is not thread-safe.
    """

    __slots__ = (
        "_done",
        "_in_thought",
        "_out",
        "_partial",
        "_plain",
        "_run_parts",
        "_run_thought",
        "_show",
        "_skip_ws",
        "_started",
        "_ws",
    )

    def __init__(self, *, show_thinking: bool = True, start_in_thinking: bool = False) -> None:
        self._show = show_thinking
        self._in_thought = start_in_thinking
        self._started = not start_in_thinking  # ThoughtStart of a template-opened block is owed
        self._skip_ws = start_in_thinking  # drop whitespace right after a tag
        self._ws: list[str] = []  # whitespace inside a thought, held until we know what follows
        self._partial = ""  # a tail that may still become a tag
        self._done = False
        self._out: list[InferenceEvent] = []  # events of the current call
        self._run_parts: list[str] = []  # text of the current run (one event's worth)
        self._run_thought = False  # whether that run is thought or content
        self._plain = False  # in content with nothing held back: see feed()
        self._update_plain()

    @property
    def in_thought(self) -> bool:
        return self._in_thought

    def feed(self, text: str) -> list[InferenceEvent]:
        """Consume ``text``; return the events it completes (possibly none)."""
        if self._plain and text and "<" not in text:
            # Most tokens of an answer: in content, nothing held back, no tag can start here.
            # The general path below would produce exactly this one event.
            return [Content(text=text)]
        if self._done:
            raise RuntimeError("ThinkParser.feed() after finish()")
        self._begin()
        if not text:
            self._update_plain()
            return self._take()
        s = self._partial + text if self._partial else text
        self._partial = ""
        i = 0
        n = len(s)
        while i < n:
            j = s.find("<", i)
            if j == -1:
                self._text(s[i:] if i else s)
                break
            if j > i:
                self._text(s[i:j])
            tags = _THOUGHT_TAGS if self._in_thought else _CONTENT_TAGS
            for tag in tags:
                if s.startswith(tag, j):
                    self._tag(tag)
                    i = j + len(tag)
                    break
            else:
                tail = s[j:]
                if len(tail) < len(THINK_CLOSE) and any(t.startswith(tail) for t in tags):
                    self._partial = tail  # could still become a tag: hold back
                    break
                self._text("<")
                i = j + 1
        self._update_plain()
        return self._take()

    def finish(self) -> list[InferenceEvent]:
        """Flush held-back text; close a thought left open. Call once, at the end."""
        if self._done:
            return []
        self._begin()
        if self._partial:
            partial, self._partial = self._partial, ""
            if not (self._in_thought and _is_cut_close(partial)):
                self._text(partial)
        if self._in_thought:
            self._ws.clear()  # the end of output closes the thought: trailing whitespace goes
            self._in_thought = False
            if self._show:
                self._emit(_STOP)
        self._done = True
        self._update_plain()
        return self._take()

    # -- internals --------------------------------------------------------------------------

    def _update_plain(self) -> None:
        """Whether the next text without ``<`` is one ``Content`` of itself, as is."""
        self._plain = (
            self._started
            and not self._done
            and not self._in_thought
            and not self._skip_ws
            and not self._partial
        )

    def _begin(self) -> None:
        if not self._started:
            self._started = True
            if self._show:
                self._emit(_START)

    def _tag(self, tag: str) -> None:
        if tag == THINK_OPEN:  # only seen in content
            self._in_thought = True
            if self._show:
                self._emit(_START)
        elif self._in_thought:
            self._ws.clear()  # whitespace right before </think> is layout
            self._in_thought = False
            if self._show:
                self._emit(_STOP)
        # else: a stray </think> in content is dropped.
        self._skip_ws = True

    def _text(self, text: str) -> None:
        if self._skip_ws:
            text = text.lstrip()
            if not text:
                return
            self._skip_ws = False
        if not self._in_thought:
            self._run(False, text)
            return
        if not self._show:
            return
        body = text.rstrip()
        if not body:  # all whitespace: hold it until we know whether </think> follows
            self._ws.append(text)
            return
        if self._ws:
            self._run(True, "".join(self._ws))
            self._ws.clear()
        self._run(True, body)
        if len(body) < len(text):
            self._ws.append(text[len(body) :])

    def _emit(self, event: InferenceEvent) -> None:
        self._flush_run()
        self._out.append(event)

    def _run(self, thought: bool, text: str) -> None:
        if self._run_parts and self._run_thought != thought:
            self._flush_run()
        self._run_thought = thought
        self._run_parts.append(text)

    def _flush_run(self) -> None:
        if self._run_parts:
            text = "".join(self._run_parts)
            self._run_parts.clear()
            if self._run_thought:
                self._out.append(Thought(event=ThoughtDelta(text=text)))
            else:
                self._out.append(Content(text=text))

    def _take(self) -> list[InferenceEvent]:
        self._flush_run()
        out, self._out = self._out, []
        return out
