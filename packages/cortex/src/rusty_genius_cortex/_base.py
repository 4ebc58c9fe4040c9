"""What every engine shares, written once: :class:`EngineBase`.

An engine is an :class:`EngineBase` subclass that implements four hooks, in the
style of ``trio.abc``: :meth:`~EngineBase._load_model`,
:meth:`~EngineBase._unload_model`, :meth:`~EngineBase._prepare` and
:meth:`~EngineBase._generate`, and, if it can embed, :meth:`~EngineBase._embed`.
The base class owns the rest of the :class:`~rusty_genius_cortex.Engine` contract:

* the four properties (``backend`` and ``needs_weights`` come from the class
  attributes ``_backend`` and ``_needs_weights``);
* the request checks (exactly one of ``prompt``/``messages``, at least one
  message, ``raw`` only with a prompt, tools the choice can satisfy), raised as
  :class:`~rusty_genius_core.ConfigError` at the first ``__anext__``, and the
  capability checks: tools (``_supports_tools``), a JSON response format
  (``_supports_json``) and embeddings (an ``_embed`` override) the engine cannot
  serve are :class:`~rusty_genius_core.UnsupportedError` (400);
* embeddings' last step: vectors cut to ``dimensions`` and L2-normalised;
* the turn: up to :attr:`~EngineBase.parallel` requests run at once on one engine
  (one unless the engine's load sets ``_parallel``: the llama engine's sequences),
  and loads and unloads wait for them and run alone (a :class:`RequestQueue`),
  unless the engine passes ``serialize=False`` (the remote engine: its server queues);
* the cold-load bookkeeping: the first request after a load gets
  ``ProcessStart(cold=True)`` and is charged the load's duration;
* ``ProcessStart`` first, and the rule "release the turn before yielding
  ``Complete``": a consumer that stops reading at ``Complete`` never keeps the
  engine busy.
"""

from __future__ import annotations

import contextlib
from abc import ABCMeta, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

import attrs

from rusty_genius_core import (
    AdapterFile,
    AdapterSet,
    ChatMessage,
    Complete,
    ConfigError,
    Embeddings,
    EngineError,
    GeniusError,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
    ProcessStart,
    ResponseFormat,
    Tool,
    ToolChoice,
    ToolChoiceMode,
    UnsupportedError,
    loop_clock,
)
from rusty_genius_core._record import Record
from rusty_genius_core._tools import _check_tool_choice
from rusty_genius_core.limits import MAX_ADAPTERS

from ._embedding import EmbedRequest, RawEmbeddings, finish_vectors
from ._queue import RequestQueue
from ._usage import UsageMeter

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Sequence
    from contextlib import AbstractAsyncContextManager
    from pathlib import Path

    from ._engine import StopSignal

__all__ = ["EngineBase", "EngineRequest"]

JobT = TypeVar("JobT")


@attrs.frozen(repr=False, eq=False)
class EngineRequest(Record):
    """One checked request: exactly one of ``prompt`` and ``messages`` is set.

    ``tools`` the model may call as ``tool_choice`` allows; ``response_format`` says
    what the answer's text must be. :attr:`offers_tools` is False when there are no
    tools or the choice is ``none``.
    """

    prompt: str | None
    messages: tuple[ChatMessage, ...] | None
    config: InferenceConfig
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = attrs.field(factory=ToolChoice)
    response_format: ResponseFormat = attrs.field(factory=ResponseFormat)
    adapters: AdapterSet = ()  # LoRA adapters over the loaded model, for this request only

    @classmethod
    def checked(
        cls,
        prompt: str | None,
        messages: Sequence[ChatMessage] | None,
        config: InferenceConfig,
        *,
        tools: Sequence[Tool] = (),
        tool_choice: ToolChoice | None = None,
        response_format: ResponseFormat | None = None,
        adapters: Sequence[AdapterFile] = (),
    ) -> EngineRequest:
        """The request, or :class:`~rusty_genius_core.ConfigError` naming what is wrong."""
        if (prompt is None) == (messages is None):
            raise ConfigError("infer() takes exactly one of prompt= or messages=")
        if messages is not None and not messages:
            raise ConfigError("infer(messages=...) needs at least one message")
        if messages is not None and config.raw:
            raise ConfigError("InferenceConfig(raw=True) sends a prompt as-is; pass prompt=")
        choice = ToolChoice() if tool_choice is None else tool_choice
        try:
            _check_tool_choice(tuple(tools), choice, "infer()")
        except GeniusError as exc:
            raise ConfigError(exc.message) from None
        return cls(
            prompt,
            None if messages is None else tuple(messages),
            config,
            tuple(tools),
            choice,
            ResponseFormat() if response_format is None else response_format,
            _checked_adapters(adapters),
        )

    @property
    def offers_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice.mode is not ToolChoiceMode.NONE


def _checked_adapters(adapters: Sequence[AdapterFile]) -> AdapterSet:
    found = tuple(adapters)
    if not all(isinstance(a, AdapterFile) for a in found):
        raise ConfigError(f"infer(adapters=...) takes AdapterFile values, got {found!r}")
    if len(found) > MAX_ADAPTERS:
        raise ConfigError(
            f"infer(adapters=...) lists {len(found)} adapters; at most {MAX_ADAPTERS}"
        )
    names = [a.name for a in found]
    if len(set(names)) != len(names):
        raise ConfigError(f"infer(adapters=...) names an adapter twice: {', '.join(names)}")
    return found


class EngineBase(Generic[JobT], metaclass=ABCMeta):
    """The shared part of every engine; subclasses implement loading and generation.

    ``JobT`` is what :meth:`_prepare` makes of a request for :meth:`_generate`.
    """

    _backend: ClassVar[str]
    """The engine's name (one of the ``BACKEND_*`` constants); every subclass sets it."""
    _needs_weights: ClassVar[bool] = True
    """False when the engine ignores model files: no download is needed."""
    _charges_load: ClassVar[bool] = True
    """Whether the first request after a load reports the load's duration in its usage."""
    _supports_tools: ClassVar[bool] = False
    """Whether :meth:`_generate` honours ``tools`` (else they are refused, unless ``none``)."""
    _supports_json: ClassVar[bool] = False
    """Whether :meth:`_generate` honours a JSON ``response_format`` (else it is refused)."""
    _supports_adapters: ClassVar[bool] = False
    """Whether :meth:`_generate` applies a request's LoRA ``adapters`` (else they are refused)."""

    def __init__(self, *, serialize: bool = True) -> None:
        self._queue = RequestQueue(f"cortex.{self._backend}.{id(self):x}") if serialize else None
        self._loaded: str | None = None
        self._unpaid_load = 0.0  # the last load's duration, reported by the next request
        self._cold = False
        self._parallel = 1  # requests at once on the loaded model; _load_model may change it

    # -- the Engine protocol ------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def needs_weights(self) -> bool:
        return self._needs_weights

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def model_name(self) -> str | None:
        """The name given to :meth:`load`, or ``None`` when nothing is loaded."""
        return self._loaded

    @property
    def parallel(self) -> int:
        """How many requests the loaded model serves at once (others wait their turn)."""
        return self._parallel

    async def load(
        self,
        name: str,
        path: Path | None,
        options: LoadOptions,
        spec: ModelSpec | None = None,
    ) -> float:
        """Load ``name`` (unloading any other model first); return the seconds it took."""
        if not isinstance(name, str) or not name.strip():
            raise EngineError(f"{type(self).__name__}.load() needs a model name")
        self._check_load(name, path)
        async with self._exclusive():
            self._forget()
            now = self._clock()
            started = now()
            await self._load_model(name, path, options, spec)
            elapsed = max(0.0, now() - started)
            if self._queue is not None:
                self._queue.capacity = self._parallel
            self._loaded, self._unpaid_load, self._cold = name, elapsed, True
            return elapsed

    async def unload(self) -> None:
        """Free the model (idempotent)."""
        async with self._exclusive():
            self._forget()
            await self._unload_model()

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

        ``adapters`` are LoRA adapters applied over the loaded model for this request
        alone (their files checked at pull time; see ``check_adapters``).
        """
        return self._stream(
            prompt,
            messages,
            config,
            stop,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
            adapters=adapters,
        )

    async def embed(
        self,
        inputs: Sequence[str],
        *,
        truncate: bool = False,
        dimensions: int | None = None,
    ) -> Embeddings:
        """One L2-normalised vector per text of ``inputs``, by the loaded model.

        A text longer than the context is :class:`~rusty_genius_core.ContextLengthError`
        unless ``truncate``; an engine or model that cannot embed raises
        :class:`~rusty_genius_core.UnsupportedError`.
        """
        request = EmbedRequest.checked(inputs, truncate=truncate, dimensions=dimensions)
        if type(self)._embed is EngineBase._embed:
            raise UnsupportedError(f"the {self._backend} engine cannot make embeddings")
        async with self._turn():
            model = self._loaded
            if model is None:
                raise EngineError(f"{type(self).__name__} has no model loaded; call load() first")
            now = self._clock()
            started = now()
            raw = await self._embed(model, request)
            vectors = finish_vectors(raw.vectors, request.dimensions)
            load, self._cold = (self._unpaid_load if self._charges_load else 0.0), False
            self._unpaid_load = 0.0
            return Embeddings(
                model=model,
                vectors=vectors,
                token_counts=raw.token_counts,
                load_duration=load,
                duration=max(0.0, now() - started),
            )

    # -- hooks --------------------------------------------------------------------------------

    def _check_load(self, name: str, path: Path | None) -> None:
        """Refuse a load before anything is unloaded (default: accept)."""

    def _clock(self) -> Callable[[], float]:
        """The clock of load durations and usage timings (default: the event loop's),
        looked up once per load or request and then read once per token."""
        return loop_clock()

    @abstractmethod
    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        """Load the model, replacing (and freeing) any loaded one. Holds the turn."""

    @abstractmethod
    async def _unload_model(self) -> None:
        """Free the model, if any (idempotent). Holds the turn."""

    @abstractmethod
    async def _prepare(self, model: str, request: EngineRequest) -> JobT:
        """Get a request ready (holds the turn, before ``ProcessStart``): errors go here."""

    def _dismiss(self, job: JobT) -> None:
        """``job`` is over: it ran, or its consumer left before :meth:`_generate` started
        (default: nothing to do). Called once per prepared job, on every path."""

    async def _embed(self, model: str, request: EmbedRequest) -> RawEmbeddings:
        """Embed ``request.inputs`` (holds the turn). Engines that can embed override it."""
        raise UnsupportedError(f"the {self._backend} engine cannot make embeddings")

    @abstractmethod
    def _generate(
        self, job: JobT, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        """The request's events after ``ProcessStart``, ending with ``Complete``.

        Runs while holding the turn; the base class holds ``Complete`` back until the
        turn is released, and closes the generator on every path.
        """

    # -- the shared machinery -----------------------------------------------------------------

    def _turn(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext() if self._queue is None else self._queue

    def _exclusive(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext() if self._queue is None else self._queue.exclusive()

    def _forget(self) -> None:
        self._loaded, self._unpaid_load, self._cold = None, 0.0, False

    async def _stream(
        self,
        prompt: str | None,
        messages: Sequence[ChatMessage] | None,
        config: InferenceConfig,
        stop: StopSignal | None,
        *,
        tools: Sequence[Tool],
        tool_choice: ToolChoice | None,
        response_format: ResponseFormat | None,
        adapters: Sequence[AdapterFile] = (),
    ) -> AsyncGenerator[InferenceEvent, None]:
        request = EngineRequest.checked(
            prompt,
            messages,
            config,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
            adapters=adapters,
        )
        if request.adapters and not self._supports_adapters:
            raise UnsupportedError(f"the {self._backend} engine cannot apply LoRA adapters")
        if request.offers_tools and not self._supports_tools:
            raise UnsupportedError(f"the {self._backend} engine cannot call tools")
        if request.response_format.is_json and not self._supports_json:
            raise UnsupportedError(
                f"the {self._backend} engine cannot constrain the answer to JSON"
            )
        meter = UsageMeter(clock=self._clock())  # from acceptance: waiting for the turn is TTFT
        final: Complete | None = None
        async with self._turn():
            model = self._loaded
            if model is None:
                raise EngineError(f"{type(self).__name__} has no model loaded; call load() first")
            job = await self._prepare(model, request)
            try:
                if self._charges_load:
                    meter.load_duration = self._unpaid_load
                cold, self._cold, self._unpaid_load = self._cold, False, 0.0
                yield ProcessStart(model=model, cold=cold)
                async with contextlib.aclosing(self._generate(job, meter, stop)) as events:
                    async for event in events:
                        if isinstance(event, Complete):
                            final = event
                            break
                        yield event
            finally:
                self._dismiss(job)
        # The turn is released before Complete.
        if final is None:
            raise EngineError(f"the {self._backend} engine ended a request without a result")
        yield final
