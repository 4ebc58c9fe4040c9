"""Ollama's wire shapes and the library's events, both ways, without I/O.

:func:`request_body` writes a request for ``/api/chat`` (or ``/api/generate`` for a raw
prompt) from an ``InferenceConfig``; :class:`AnswerLines` reads its NDJSON replies back
into the events an in-process ``Genius.infer`` yields (``ProcessStart``, ``Thought``,
``Content``, ``Complete`` with its ``Usage``); :class:`PullLines` reads ``/api/pull``'s
lines into asset events; :func:`status_of_running` reads one ``/api/ps`` row and
:func:`info_record_of` an ``/api/show`` answer.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import (
    AssetComplete,
    AssetProgress,
    AssetStarted,
    ChatMessage,
    Complete,
    Content,
    FinishReason,
    ModelStatus,
    ProcessStart,
    Role,
    Thought,
    ThoughtDelta,
    ThoughtStart,
    ThoughtStop,
    Usage,
)

from .._serve._models_ollama import OWN_INFO as OWN
from .._serve._models_ollama import GenerateResponse, OllamaChatResponse
from ._created_info import created_of_show

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rusty_genius_core import AssetEvent, InferenceConfig, InferenceEvent

    from .._serve._models_ollama import PullStatus, RunningModel, ShowResponse

__all__ = ["AnswerLines", "PullLines", "info_record_of", "request_body", "status_of_running"]

_FOREVER_AFTER: Final = 100 * 365 * 24 * 3600.0
"""An ``expires_at`` this far ahead is the server's "never" (Go's longest duration)."""
_FINISH: Final = {r.value: r for r in FinishReason}


def request_body(
    model: str,
    messages: str | Sequence[ChatMessage],
    *,
    config: InferenceConfig,
    keep_alive: float | None,
) -> tuple[str, dict[str, Any]]:
    """The path and JSON body that ask the server for what ``Genius.infer`` would answer."""
    sampling = config.sampling
    options: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k,
        "min_p": sampling.min_p,
        "repeat_penalty": sampling.repeat_penalty,
        "num_predict": config.max_tokens,
    }
    if config.seed is not None:
        options["seed"] = config.seed
    if config.stop:
        options["stop"] = list(config.stop)
    if config.context_size is not None:
        options["num_ctx"] = config.context_size
    body: dict[str, Any] = {
        "model": model,
        "options": options,
        "think": config.show_thinking,
        "stream": True,
    }
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    if isinstance(messages, str):
        if config.raw:
            return "/api/generate", {**body, "prompt": messages, "raw": True}
        messages = [ChatMessage(role=Role.USER, content=messages)]
    body["messages"] = [{"role": m.role.value, "content": m.content} for m in messages]
    return "/api/chat", body


def _seconds(nanoseconds: int | None) -> float:
    return (nanoseconds or 0) / 1e9


class AnswerLines:
    """Reads one streamed answer's NDJSON objects into inference events."""

    def __init__(
        self,
        model: str,
        *,
        chat: bool,
        clock: Callable[[], float] = time.perf_counter,
        began: float | None = None,
    ) -> None:
        """``began``: when the request was sent, on ``clock`` (default: now), for the ttft."""
        self.model = model
        self.chat = chat
        self.done = False
        self._clock = clock
        self._began = clock() if began is None else began
        self._first: float | None = None
        self._started = False
        self._thinking = False

    def feed(self, data: dict[str, Any]) -> list[InferenceEvent]:
        """The events one reply object stands for (it was checked for ``error`` already)."""
        line: OllamaChatResponse | GenerateResponse
        if self.chat:
            line = OllamaChatResponse.model_validate(data)
            content, thinking = line.message.content, line.message.thinking
        else:
            line = GenerateResponse.model_validate(data)
            content, thinking = line.response, line.thinking
        events: list[InferenceEvent] = []
        if not self._started:
            self._started = True
            events.append(ProcessStart(model=self.model))
        if (content or thinking) and self._first is None:
            self._first = self._clock()
        if thinking:
            if not self._thinking:
                self._thinking = True
                events.append(Thought(event=ThoughtStart()))
            events.append(Thought(event=ThoughtDelta(text=thinking)))
        if (content or line.done) and self._thinking:
            self._thinking = False
            events.append(Thought(event=ThoughtStop()))
        if content:
            events.append(Content(text=content))
        if line.done:
            self.done = True
            events.append(Complete(usage=self._usage(line)))
        return events

    def _usage(self, line: OllamaChatResponse | GenerateResponse) -> Usage:
        completion = line.eval_count or 0
        decode = _seconds(line.eval_duration)
        return Usage(
            prompt_tokens=line.prompt_eval_count or 0,
            completion_tokens=completion,
            time_to_first_token=None if self._first is None else self._first - self._began,
            load_duration=_seconds(line.load_duration),
            prompt_duration=_seconds(line.prompt_eval_duration),
            decode_duration=decode,
            decode_tokens_per_second=completion / decode if decode > 0 else 0.0,
            finish_reason=_FINISH.get(line.done_reason or "stop", FinishReason.STOP),
        )


class PullLines:
    """Reads ``/api/pull``'s status lines into asset events.

    The file is on the server's machine: ``AssetComplete.path`` is ``where``, its URL.
    """

    def __init__(self, model: str, *, where: str) -> None:
        self.model = model
        self.where = where
        self.done = False
        self._files: set[str] = set()

    def feed(self, line: PullStatus) -> list[AssetEvent]:
        if line.status == "success":
            self.done = True
            return [AssetComplete(reference=self.model, path=self.where)]
        if line.digest is None or not line.status.startswith("pulling "):
            return []  # "pulling manifest", "verifying sha256 digest"
        total = line.total or None
        if line.digest not in self._files:
            self._files.add(line.digest)
            started = AssetStarted(reference=self.model, filename=line.digest, total=total)
            if not line.completed:
                return [started]
            return [started, self._progress(line, total)]
        return [self._progress(line, total)]

    def _progress(self, line: PullStatus, total: int | None) -> AssetProgress:
        return AssetProgress(filename=line.digest or "", done=line.completed or 0, total=total)


def status_of_running(model: RunningModel) -> ModelStatus:
    """One ``/api/ps`` row as ``Genius.ps`` would give it (``expires_at`` ``None``: never)."""
    expires = dt.datetime.fromisoformat(model.expires_at.replace("Z", "+00:00")).timestamp()
    return ModelStatus(
        name=model.name,
        quantization=model.details.quantization_level,
        size=model.size or None,
        loaded=True,
        expires_at=None if expires - time.time() > _FOREVER_AFTER else expires,
    )


def info_record_of(show: ShowResponse) -> dict[str, Any]:
    """``genius info``'s record (as :func:`~._render.info_record` builds it) from ``/api/show``."""
    info = show.model_info
    arch = info.get("general.architecture")
    prefix = arch if isinstance(arch, str) and arch else "general"
    return {
        "type": "gguf_info",
        "model": info.get(f"{OWN}reference"),
        "path": info.get(f"{OWN}path"),
        "size": info.get(f"{OWN}size"),
        "architecture": arch,
        "name": info.get("general.name"),
        "size_label": info.get("general.size_label"),
        "parameter_count": info.get("general.parameter_count"),
        "context_length": info.get(f"{prefix}.context_length"),
        "block_count": info.get(f"{prefix}.block_count"),
        "quantization": info.get(f"{OWN}quantization"),
        "file_type": info.get("general.file_type"),
        "chat_template": bool(show.template),
        "gguf_version": info.get(f"{OWN}gguf_version"),
        "tensor_count": info.get(f"{OWN}tensor_count"),
        "created": created_of_show(show),
    }
