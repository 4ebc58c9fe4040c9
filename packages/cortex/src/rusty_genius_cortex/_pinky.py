"""Pinky: the stub engine that needs no weights and behaves like a tiny, polite model.

It answers every request with a thought and an echo: the raw text
``"<think>\\nNarf!\\n</think>\\n\\n"`` followed by the prompt (for chat, the last
user message), cut into word-ish tokens (a tag's ``<``, ``/`` and ``>`` are
tokens of their own, so tags arrive split as a real tokenizer splits them).
That text goes through the same :class:`~rusty_genius_cortex.TokenPipeline`
(stop strings, the think parser, usage accounting) as llama.cpp's output, so
the stub exercises the real path. Everything is deterministic; the only
timing is the configurable load and per-token delays (``anyio.sleep``, zero in
fast tests). Its durations are read from the event loop's clock.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import anyio
import anyio.lowlevel

from rusty_genius_core import (
    ChatMessage,
    ConfigError,
    EngineError,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
    ProcessStart,
    Role,
)

from ._pipeline import TokenPipeline
from ._queue import RequestQueue
from ._think import prompt_opens_thinking
from ._usage import UsageMeter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from ._engine import StopSignal

__all__ = ["PINKY_THOUGHT", "PinkyEngine", "pinky_tokens"]

#: The raw text Pinky generates before its echo; the think parser turns it into a thought.
PINKY_THOUGHT: Final = "<think>\nNarf!\n</think>\n\n"

_CHECKPOINT_EVERY: Final = 16
"""At zero ``token_delay``, tokens between checkpoints (cancellation and other tasks get in)."""

_TOKEN: Final = re.compile(r"[</>]|\s*[^\s</>]+|\s+")


def pinky_tokens(text: str) -> list[str]:
    """Pinky's tokenizer: words with their leading whitespace, and ``<``, ``/``, ``>`` alone.

    The tokens concatenate back to ``text`` exactly.
    """
    return _TOKEN.findall(text)


def _check_request(prompt: str | None, messages: Sequence[ChatMessage] | None) -> None:
    if (prompt is None) == (messages is None):
        raise ConfigError("infer() takes exactly one of prompt= or messages=")
    if messages is not None and not messages:
        raise ConfigError("infer(messages=...) needs at least one message")


class PinkyEngine:
    """The always-available stub engine (``backend == "pinky"``)."""

    def __init__(self, *, load_delay: float = 0.0, token_delay: float = 0.0) -> None:
        if load_delay < 0 or token_delay < 0:
            raise ConfigError(
                f"PinkyEngine delays must be >= 0, got load_delay={load_delay!r}, "
                f"token_delay={token_delay!r}"
            )
        self._load_delay = load_delay
        self._token_delay = token_delay
        self._model: str | None = None
        self._unpaid_load = 0.0  # the last load's duration, reported by the next request
        self._cold = False
        self._queue = RequestQueue(f"cortex.pinky.{id(self):x}")

    @property
    def backend(self) -> str:
        return "pinky"

    @property
    def needs_weights(self) -> bool:
        return False

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    @property
    def model_name(self) -> str | None:
        return self._model

    async def load(
        self,
        name: str,
        path: Path | None,
        options: LoadOptions,
        spec: ModelSpec | None = None,
    ) -> float:
        """Pretend to load ``name`` (``path`` is ignored); take ``load_delay`` seconds."""
        if not name:
            raise EngineError("PinkyEngine.load() needs a model name")
        async with self._queue:
            started = anyio.current_time()
            self._model = None
            await anyio.sleep(self._load_delay)
            self._model = name
            self._unpaid_load = anyio.current_time() - started
            self._cold = True
            return self._unpaid_load

    async def unload(self) -> None:
        async with self._queue:
            self._model = None
            self._unpaid_load = 0.0
            self._cold = False

    def infer(
        self,
        *,
        prompt: str | None = None,
        messages: Sequence[ChatMessage] | None = None,
        config: InferenceConfig,
        stop: StopSignal | None = None,
    ) -> AsyncIterator[InferenceEvent]:
        return self._stream(prompt, messages, config, stop)

    async def _stream(
        self,
        prompt: str | None,
        messages: Sequence[ChatMessage] | None,
        config: InferenceConfig,
        stop: StopSignal | None,
    ) -> AsyncIterator[InferenceEvent]:
        _check_request(prompt, messages)
        if messages is not None:
            said = [m.content for m in messages]
            users = [m.content for m in messages if m.role is Role.USER]
            echo = users[-1] if users else ""
            prompt_text = "\n".join(said)
        else:
            assert prompt is not None
            echo = prompt_text = prompt
        # The loop's clock, not perf_counter: Pinky's time is all simulated sleeps, and under
        # trio's MockClock its usage figures come out exact.
        meter = UsageMeter(clock=anyio.current_time)  # waiting for the turn counts toward TTFT
        async with self._queue:
            if self._model is None:
                raise EngineError("PinkyEngine has no model loaded; call load() first")
            meter.load_duration = self._unpaid_load
            cold, self._cold, self._unpaid_load = self._cold, False, 0.0
            yield ProcessStart(model=self._model, cold=cold)
            pipeline = TokenPipeline(
                config, meter=meter, start_in_thinking=prompt_opens_thinking(prompt_text)
            )
            meter.prompt_started(len(pinky_tokens(prompt_text)))
            meter.prompt_done()
            reason = FinishReason.STOP
            delay = self._token_delay
            for n, token in enumerate(pinky_tokens(PINKY_THOUGHT + echo)):
                if delay or n % _CHECKPOINT_EVERY == 0:
                    if stop is not None and stop.is_set():
                        reason = FinishReason.CANCELLED
                        break
                    if delay:
                        await anyio.sleep(delay)
                    else:
                        # At zero delay a checkpoint per token costs more than the token itself.
                        await anyio.lowlevel.checkpoint()
                # Checked once the token's wait is over (the stop may have come during it).
                if stop is not None and stop.is_set():
                    reason = FinishReason.CANCELLED
                    break
                events, hit = pipeline.token(token)
                for event in events:
                    yield event
                if hit:
                    break
                if pipeline.at_max_tokens:
                    reason = FinishReason.LENGTH
                    break
            final = pipeline.complete(reason)
        # The turn is released before the last events: a consumer that stops reading at
        # Complete never keeps the engine busy.
        for event in final:
            yield event
