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
    ConfigError,
    FinishReason,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
    Role,
)

from ._base import EngineBase, EngineRequest
from ._engine import BACKEND_PINKY
from ._pipeline import TokenPipeline
from ._think import prompt_opens_thinking

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from pathlib import Path

    from ._engine import StopSignal
    from ._usage import UsageMeter

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


class PinkyEngine(EngineBase[EngineRequest]):
    """The always-available stub engine (``backend == "pinky"``)."""

    _backend = BACKEND_PINKY
    _needs_weights = False

    def __init__(self, *, load_delay: float = 0.0, token_delay: float = 0.0) -> None:
        if load_delay < 0 or token_delay < 0:
            raise ConfigError(
                f"PinkyEngine delays must be >= 0, got load_delay={load_delay!r}, "
                f"token_delay={token_delay!r}"
            )
        super().__init__()
        self._load_delay = load_delay
        self._token_delay = token_delay

    # The loop's clock (EngineBase's default), not perf_counter: Pinky's time is all simulated
    # sleeps, and under trio's MockClock its usage figures come out exact.

    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        """Pretend to load ``name`` (``path`` is ignored); take ``load_delay`` seconds."""
        await anyio.sleep(self._load_delay)

    async def _unload_model(self) -> None:
        pass

    async def _prepare(self, model: str, request: EngineRequest) -> EngineRequest:
        return request

    async def _generate(
        self, request: EngineRequest, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        if request.messages is not None:
            said = [m.content for m in request.messages]
            users = [m.content for m in request.messages if m.role is Role.USER]
            echo = users[-1] if users else ""
            prompt_text = "\n".join(said)
        else:
            assert request.prompt is not None
            echo = prompt_text = request.prompt
        pipeline = TokenPipeline(
            request.config, meter=meter, start_in_thinking=prompt_opens_thinking(prompt_text)
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
        for event in pipeline.complete(reason):
            yield event
