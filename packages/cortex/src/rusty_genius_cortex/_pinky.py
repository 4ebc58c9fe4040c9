"""Pinky: the stub engine that needs no weights and behaves like a tiny, polite model.

It answers every request with a thought and an echo: the raw text
``"<think>\\nNarf!\\n</think>\\n\\n"`` followed by the prompt (for chat, the last
user message), cut into word-ish tokens (a tag's ``<``, ``/`` and ``>`` are
tokens of their own, so tags arrive split as a real tokenizer splits them).
That text goes through the same :class:`~rusty_genius_cortex.TokenPipeline`
(stop strings, the think parser, usage accounting) as llama.cpp's output, so
the stub exercises the real path. Under LoRA adapters the echo starts with their
names (:func:`adapter_mark`), so adapter routing is testable without weights. Everything is deterministic; the only
timing is the configurable load and per-token delays (``anyio.sleep``, zero in
fast tests). Its durations are read from the event loop's clock.

For agents it follows a script (``_pinky_agent``): with tools it calls one (the
arguments stream as :class:`~rusty_genius_core.ToolCallDelta` fragments, one per
Pinky token, after the thought), under a JSON response format it writes the schema's
smallest valid instance, and it embeds texts by feature hashing. Its context holds
4096 of Pinky's tokens unless the load or the request sets another
size (as a model has its own default: Ollama's is 4096); a longer prompt is
:class:`~rusty_genius_core.ContextLengthError`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import anyio
import anyio.lowlevel

from rusty_genius_core import (
    ConfigError,
    ContextLengthError,
    FinishReason,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
    ToolCallDelta,
)

from ._base import EngineBase, EngineRequest
from ._embedding import EmbedRequest, RawEmbeddings
from ._engine import BACKEND_PINKY
from ._pinky_agent import pinky_reply, pinky_vector
from ._pipeline import TokenPipeline
from ._think import prompt_opens_thinking

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from pathlib import Path

    from rusty_genius_core import AdapterSet

    from ._engine import StopSignal
    from ._usage import UsageMeter

__all__ = ["PINKY_THOUGHT", "PinkyEngine", "adapter_mark", "pinky_tokens"]

#: The raw text Pinky generates before its echo; the think parser turns it into a thought.
PINKY_THOUGHT: Final = "<think>\nNarf!\n</think>\n\n"

_CONTEXT_SIZE: Final = 4096
"""Pinky's context when neither the load nor the request sets one (Ollama's default)."""
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
    _supports_tools = True
    _supports_json = True
    _supports_adapters = True

    def __init__(self, *, load_delay: float = 0.0, token_delay: float = 0.0) -> None:
        if load_delay < 0 or token_delay < 0:
            raise ConfigError(
                f"PinkyEngine delays must be >= 0, got load_delay={load_delay!r}, "
                f"token_delay={token_delay!r}"
            )
        super().__init__()
        self._load_delay = load_delay
        self._token_delay = token_delay
        self._context_size = _CONTEXT_SIZE

    # The loop's clock (EngineBase's default), not perf_counter: Pinky's time is all simulated
    # sleeps, and under trio's MockClock its usage figures come out exact.

    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        """Pretend to load ``name`` (``path`` is ignored); take ``load_delay`` seconds."""
        await anyio.sleep(self._load_delay)
        self._context_size = options.context_size or _CONTEXT_SIZE

    async def _unload_model(self) -> None:
        pass

    async def _prepare(self, model: str, request: EngineRequest) -> EngineRequest:
        limit = request.config.context_size or self._context_size
        used = len(pinky_tokens(_prompt_text(request)))
        if used >= limit:
            raise ContextLengthError(
                f"the prompt is {used} tokens but the context of {model!r} holds {limit}"
            )
        return request

    async def _embed(self, model: str, request: EmbedRequest) -> RawEmbeddings:
        vectors, counts = [], []
        for i, text in enumerate(request.inputs):
            tokens = pinky_tokens(text)
            limit = self._context_size
            if len(tokens) > limit:
                if not request.truncate:
                    raise ContextLengthError(
                        f"input {i} is {len(tokens)} tokens but the context of {model!r} "
                        f"holds {limit}; shorten it or ask for truncation"
                    )
                tokens = tokens[:limit]
            vectors.append(pinky_vector(tokens))
            counts.append(len(tokens))
            await anyio.lowlevel.checkpoint()
        return RawEmbeddings(tuple(vectors), tuple(counts))

    async def _generate(
        self, request: EngineRequest, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        prompt_text = _prompt_text(request)
        reply = pinky_reply(request)
        pipeline = TokenPipeline(
            request.config, meter=meter, start_in_thinking=prompt_opens_thinking(prompt_text)
        )
        meter.prompt_started(len(pinky_tokens(prompt_text)))
        meter.prompt_done()
        reason = FinishReason.STOP
        delay = self._token_delay
        text = reply.text
        if reply.tool is None and not request.response_format.is_json:
            text = adapter_mark(request.adapters) + text
        tokens = pinky_tokens(PINKY_THOUGHT + text)
        thought = len(pinky_tokens(PINKY_THOUGHT))
        if reply.tool is not None:
            tokens += pinky_tokens(reply.arguments)
        for n, token in enumerate(tokens):
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
            if reply.tool is not None and n >= thought:
                if n == thought:  # the call's first delta: its id and name
                    yield ToolCallDelta(index=0, id=reply.call_id, name=reply.tool.name)
                pipeline.meter.token()
                yield ToolCallDelta(index=0, arguments=token)
                if n == len(tokens) - 1:
                    reason = FinishReason.TOOL_CALLS
            else:
                events, hit = pipeline.token(token)
                for event in events:
                    yield event
                if hit:
                    break
            if pipeline.at_max_tokens and reason is not FinishReason.TOOL_CALLS:
                reason = FinishReason.LENGTH
                break
        for event in pipeline.complete(reason):
            yield event


def adapter_mark(adapters: AdapterSet) -> str:
    """What Pinky puts before its echo under LoRA adapters: ``"[adapters: a, b*0.5] "``.

    Adapters at scale 0 change nothing and are not named (``""`` when none are left), as
    llama.cpp leaves them out.
    """
    shown = [a.name if a.scale == 1 else f"{a.name}*{a.scale:g}" for a in adapters if a.scale]
    return f"[adapters: {', '.join(shown)}] " if shown else ""


def _prompt_text(request: EngineRequest) -> str:
    """What Pinky counts as the prompt: the messages (and tool calls) joined, or the prompt."""
    if request.messages is None:
        assert request.prompt is not None
        return request.prompt
    parts = [m.content for m in request.messages]
    parts += [c.arguments for m in request.messages for c in m.tool_calls]
    return "\n".join(parts)
