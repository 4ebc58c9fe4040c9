"""The engine contract every backend implements, and the signal that stops one.

An engine owns at most one loaded model. ``infer`` is an async iterator of
:data:`InferenceEvent` that always ends with exactly one :class:`Complete` —
also when stopped (finish reason ``cancelled``) — unless the consuming task
itself is cancelled, in which case the iterator's cleanup stops the worker
thread before it returns. Engines serialize their own requests: two concurrent
``infer`` calls on one engine run one after the other. A consumer that stops
reading early closes the iterator (``contextlib.aclosing``); the engines release
their turn before yielding ``Complete``, so stopping at ``Complete`` is enough.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from rusty_genius_core import (
        ChatMessage,
        InferenceConfig,
        InferenceEvent,
        LoadOptions,
        ModelSpec,
    )

__all__ = ["Engine", "StopSignal"]


class StopSignal:
    """Set from the async side, polled by a worker thread between tokens.

    A ``threading.Event`` underneath, because the reader is a plain thread that
    must not touch the event loop.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


@runtime_checkable
class Engine(Protocol):
    """What brainstem needs from a backend."""

    @property
    def backend(self) -> str:
        """``"pinky"``, ``"llama"`` or ``"remote"``."""
        ...

    @property
    def needs_weights(self) -> bool:
        """False when the engine ignores model files (Pinky): no download is needed."""
        ...

    @property
    def is_loaded(self) -> bool: ...

    @property
    def model_name(self) -> str | None:
        """The name given to :meth:`load`, or ``None`` when nothing is loaded."""
        ...

    async def load(
        self,
        name: str,
        path: Path | None,
        options: LoadOptions,
        spec: ModelSpec | None = None,
    ) -> float:
        """Load ``path`` (``None`` only for engines that need no weights); return seconds taken.

        Loading while another model is loaded unloads that one first.
        Raises :class:`~rusty_genius_core.EngineError` for a missing or invalid file.
        """
        ...

    def infer(
        self,
        *,
        prompt: str | None = None,
        messages: Sequence[ChatMessage] | None = None,
        config: InferenceConfig,
        stop: StopSignal | None = None,
    ) -> AsyncIterator[InferenceEvent]:
        """Stream events for one request; exactly one of ``prompt``/``messages``."""
        ...

    async def unload(self) -> None:
        """Free the model (idempotent)."""
        ...
