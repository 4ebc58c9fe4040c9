"""The engine contract every backend implements, and the signal that stops one.

An engine owns at most one loaded model. ``infer`` is an async iterator of
:data:`InferenceEvent` that always ends with exactly one :class:`Complete` —
also when stopped (finish reason ``cancelled``) — unless the consuming task
itself is cancelled, in which case the iterator's cleanup stops the worker
thread before it returns. Engines bound their own concurrency: at most
``parallel`` requests run at once on one engine (the llama engine's sequences;
one for Pinky), the others wait their turn in arrival order; loads and unloads
wait for running requests. A consumer that stops
reading early closes the iterator (``contextlib.aclosing``); the engines release
their turn before yielding ``Complete``, so stopping at ``Complete`` is enough.
:class:`~rusty_genius_cortex.EngineBase` implements these rules once.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Final, Literal, Protocol, TypeAlias, runtime_checkable

import anyio
import anyio.lowlevel

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterator, Sequence
    from pathlib import Path

    from rusty_genius_core import (
        AdapterFile,
        ChatMessage,
        Embeddings,
        InferenceConfig,
        InferenceEvent,
        LoadOptions,
        ModelSpec,
        ResponseFormat,
        Tool,
        ToolChoice,
    )

__all__ = [
    "BACKEND_AUTO",
    "BACKEND_LLAMA",
    "BACKEND_PINKY",
    "BACKEND_REMOTE",
    "REAL_ENGINE_HINT",
    "Backend",
    "Engine",
    "StopSignal",
]

# The engines' names, written here once (a test ties them to ``Backend``).
BACKEND_PINKY: Final = "pinky"
"""The stub engine that needs no weights (:class:`~rusty_genius_cortex.PinkyEngine`)."""
BACKEND_LLAMA: Final = "llama"
"""llama.cpp through llama-cpp-python (:class:`~rusty_genius_cortex.LlamaEngine`)."""
BACKEND_REMOTE: Final = "remote"
"""An OpenAI-compatible server (:class:`~rusty_genius_cortex.RemoteEngine`)."""
BACKEND_AUTO: Final = "auto"
"""Not an engine: ``create_engine``'s choice of llama when installed, else Pinky."""

REAL_ENGINE_HINT: Final = (
    'pip install "rusty-genius[real-engine]" (from a checkout, ./scripts/genius.sh installs it)'
)
"""How to install the real engine (llama-cpp-python): the one hint every message gives."""

Backend: TypeAlias = Literal["auto", "pinky", "llama", "remote"]
"""What :func:`~rusty_genius_cortex.create_engine` accepts."""


class StopSignal:
    """Asks one request to stop: polled by a worker thread, awaited by the event loop.

    Two sides, set together by :meth:`set`:

    * a ``threading.Event`` that a worker thread (llama.cpp's decoding loop) polls
      between tokens with :meth:`is_set`, without touching the event loop;
    * an async side for the event loop: :meth:`wait` returns once the signal is
      set, and :meth:`cancel_scope` gives a cancel scope that :meth:`set` cancels,
      so that one await (an HTTP read) ends the moment the signal is set, with no
      second task and no polling.

    :meth:`set` must be called from the thread of the event loop whose tasks wait
    on the signal (the orchestrator, the server and the engines all do); only
    :meth:`is_set` may be called from other threads.
    """

    __slots__ = ("_event", "_scopes", "_waiter")

    def __init__(self) -> None:
        self._event = threading.Event()
        # Created by the first wait(): an anyio.Event belongs to the loop that made it, and a
        # StopSignal may be made outside any loop.
        self._waiter: anyio.Event | None = None
        self._scopes: set[anyio.CancelScope] = set()

    def set(self) -> None:
        """Set the signal (idempotent); call it from the event loop's thread."""
        self._event.set()
        if self._waiter is not None:
            self._waiter.set()
        for scope in tuple(self._scopes):
            scope.cancel()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        """Return once the signal is set (at once, after a checkpoint, if it already is)."""
        if self.is_set():
            await anyio.lowlevel.checkpoint()
            return
        if self._waiter is None:
            self._waiter = anyio.Event()
        await self._waiter.wait()

    @contextlib.contextmanager
    def cancel_scope(self) -> Iterator[anyio.CancelScope]:
        """A cancel scope that :meth:`set` cancels (cancelled on entry if already set).

        ``scope.cancel_called`` afterwards tells a stop from a normal end. Enter and
        leave it without a ``yield`` of an async generator in between.
        """
        scope = anyio.CancelScope()
        if self.is_set():
            scope.cancel()
        self._scopes.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._scopes.discard(scope)


@runtime_checkable
class Engine(Protocol):
    """What brainstem needs from a backend."""

    @property
    def backend(self) -> str:
        """Which engine this is: :data:`BACKEND_PINKY`, :data:`BACKEND_LLAMA`, :data:`BACKEND_REMOTE`."""
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
        tools: Sequence[Tool] = (),
        tool_choice: ToolChoice | None = None,
        response_format: ResponseFormat | None = None,
        adapters: Sequence[AdapterFile] = (),
    ) -> AsyncGenerator[InferenceEvent, None]:
        """Stream events for one request; exactly one of ``prompt``/``messages``.

        ``adapters``: LoRA adapters over the loaded model for this request alone (an
        engine that cannot apply them raises :class:`~rusty_genius_core.UnsupportedError`).

        ``tools`` the model may call as ``tool_choice`` allows (default ``auto``); calls
        stream as :class:`~rusty_genius_core.ToolCallDelta` and the request finishes with
        ``tool_calls``. ``response_format`` constrains the answer's text to JSON.
        An engine that cannot honour them raises :class:`~rusty_genius_core.UnsupportedError`.
        An async generator: a consumer that stops early closes it (``aclose()``).
        """
        ...

    async def embed(
        self,
        inputs: Sequence[str],
        *,
        truncate: bool = False,
        dimensions: int | None = None,
    ) -> Embeddings:
        """One L2-normalised vector per text, by the loaded model (see ``EngineBase.embed``)."""
        ...

    async def unload(self) -> None:
        """Free the model (idempotent)."""
        ...
