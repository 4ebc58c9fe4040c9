"""The facade: one object that owns a brainstem, its asset authority and their tasks.

``async with Genius() as genius`` opens facecrab's :class:`~facecrab.AssetAuthority`,
runs a brainstem (:func:`~rusty_genius_stem.open_brainstem`) in a task group and a
second task group for downloads, and closes all of it on exit: requests still
running are cancelled and every engine is unloaded before ``__aexit__`` returns.

Every method may be called from many tasks at once: each request gets its own id
and its own stream of answers from the brainstem's client.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final, TypedDict, TypeVar, Unpack

import anyio
import attrs

from facecrab import AssetAuthority, CreatedModels
from rusty_genius_core import (
    Ack,
    AssetEvent,
    Cancel,
    Embed,
    Embeddings,
    ErrorReport,
    GeniusError,
    Infer,
    InferenceConfig,
    ListModels,
    LoadModel,
    LoadOptions,
    ModelList,
    ModelLoaded,
    ModelStatus,
    ProtocolError,
    Unload,
)
from rusty_genius_cortex import create_engine
from rusty_genius_stem import (
    DEFAULT_MAX_QUEUE,
    DEFAULT_STOP_TIMEOUT,
    BrainstemConfig,
    default_engine_factory,
    open_brainstem,
)

from ._adapter_check import check_pulled
from ._agent_args import (
    FormatLike,
    MessageLike,
    ToolChoiceLike,
    ToolLike,
    as_messages,
    as_response_format,
    as_tool_choice,
    as_tools,
)
from ._backend import BackendName, check_backend, resolve_auto
from ._created import check_created_adapters, created_entry, with_created
from ._errors import error_from_report
from ._streams import EventStream, InferenceStream

if TYPE_CHECKING:
    import os
    from collections.abc import Callable
    from types import TracebackType

    from anyio.abc import TaskGroup

    from facecrab import LocalModel, ProgressCallback
    from rusty_genius_core import Command, ModelEntry, OutputBody
    from rusty_genius_cortex import Engine
    from rusty_genius_stem import BrainstemClient, CortexStrategy

    from ._answer import Answer

__all__ = ["Genius"]


class RequestOptions(TypedDict, total=False):
    """The keyword options :meth:`Genius.chat` and :meth:`Genius.complete` pass to
    :meth:`Genius.infer`, which documents them."""

    keep_alive: float | None
    tools: Sequence[ToolLike] | None
    tool_choice: ToolChoiceLike | None
    response_format: FormatLike | None


T = TypeVar("T")


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


class Genius:
    """Local LLM inference behind one ``async with``.

    ``backend`` picks the engine each loaded model gets: ``"pinky"`` (the stub),
    ``"llama"`` (llama.cpp) or ``"auto"`` (llama when installed, else Pinky);
    ``engine_factory`` replaces that choice entirely. ``home``, ``cache``,
    ``endpoint`` and ``offline`` configure facecrab (defaults: ``GENIUS_HOME``,
    ``GENIUS_CACHE``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``); ``assets`` passes an
    authority the caller opened and closes itself. ``strategy``, ``parallelism``,
    ``max_queue``, ``max_loaded``, ``max_memory`` (bytes), ``fetch_assets`` and
    ``stop_timeout`` (seconds an engine has to stop a request before it is abandoned)
    go to the brainstem as one :class:`~rusty_genius_stem.BrainstemConfig`; ``parallelism``
    of ``None`` lets each loaded engine serve as many requests at once as it can (four
    sequences for llama.cpp), a number sets it for every engine. ``config`` passes a whole
    :class:`~rusty_genius_stem.BrainstemConfig` instead (those keywords are then ignored,
    and its engine factory, unless set, is the one ``backend`` picks).
    """

    def __init__(
        self,
        *,
        backend: BackendName = "auto",
        home: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | None = None,
        endpoint: str | None = None,
        offline: bool | None = None,
        strategy: CortexStrategy | None = None,
        fetch_assets: bool | None = None,
        parallelism: int | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_loaded: int = 1,
        max_memory: int | None = None,
        engine_factory: Callable[[], Engine] | None = None,
        assets: AssetAuthority | None = None,
        buffer_size: int = 64,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        config: BrainstemConfig | None = None,
    ) -> None:
        self.requested_backend: Final = check_backend(backend)
        self.backend: Final[str] = (
            resolve_auto(self.requested_backend) if engine_factory is None else "custom"
        )
        chosen = self.backend
        self._engine_factory: Callable[[], Engine] = engine_factory or (
            lambda: create_engine(chosen)  # type: ignore[arg-type]
        )
        self._authority_options: dict[str, Any] = {
            "home": home,
            "cache": cache,
            "endpoint": endpoint,
            "offline": offline,
        }
        self._given_assets = assets
        if config is None:
            config = BrainstemConfig(
                engine_factory=self._engine_factory,
                strategy=strategy,
                parallelism=parallelism,
                max_queue=max_queue,
                max_loaded=max_loaded,
                max_memory=max_memory,
                fetch_assets=bool(fetch_assets),
                stop_timeout=stop_timeout,
            )
        elif config.engine_factory is default_engine_factory:
            config = attrs.evolve(config, engine_factory=self._engine_factory)
        self.brainstem_config: Final = config
        self._buffer_size = buffer_size
        self._assets: AssetAuthority | None = assets
        self._client: BrainstemClient | None = None
        self._tg: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Genius backend={self.backend!r} {state}>"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Genius:
        if self._stack is not None:
            raise GeniusError("this Genius is already running; it cannot be entered twice")
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            if self._given_assets is None:
                self._assets = await stack.enter_async_context(
                    AssetAuthority(**self._authority_options)
                )
            assert self._assets is not None
            self._client = await stack.enter_async_context(
                open_brainstem(self._assets, self.brainstem_config, buffer_size=self._buffer_size)
            )
            self._tg = await stack.enter_async_context(anyio.create_task_group())
        except BaseException:
            self._client = self._tg = None
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        if self._tg is not None:
            self._tg.cancel_scope.cancel()  # downloads still streaming to nobody
        self._tg = self._client = None
        try:
            await stack.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            # The body's own exception comes back as itself, not wrapped by our task groups.
            if exc is not None and all(leaf is exc for leaf in _leaves(group)):
                raise exc from None
            raise
        finally:
            if self._given_assets is None:
                self._assets = None

    @property
    def running(self) -> bool:
        return self._stack is not None

    @property
    def assets(self) -> AssetAuthority:
        """The asset authority (facecrab) this Genius downloads with."""
        if self._assets is None:
            raise GeniusError("Genius is not running; use `async with Genius() as genius`")
        return self._assets

    @property
    def client(self) -> BrainstemClient:
        """The brainstem's client, for commands the facade does not wrap."""
        if self._client is None:
            raise GeniusError("Genius is not running; use `async with Genius() as genius`")
        return self._client

    def _task_group(self) -> TaskGroup:
        if self._tg is None:
            raise GeniusError("Genius is not running; use `async with Genius() as genius`")
        return self._tg

    async def _call(self, command: Command, expected: type[T]) -> T:
        body: OutputBody = await self.client.call(command)
        if isinstance(body, ErrorReport):
            raise error_from_report(body)
        if not isinstance(body, expected):
            raise ProtocolError(
                f"{type(command).__name__} got {body!r}, expected {expected.__name__}"
            )
        return body

    # -- models ---------------------------------------------------------------------------

    async def ensure_model(
        self, reference: str, progress: ProgressCallback | None = None
    ) -> LocalModel:
        """The verified local copy of ``reference``, downloaded first if needed.

        ``progress`` is awaited with every :data:`AssetEvent` (see facecrab). LoRA adapters
        that do not fit the base raise ``AdapterError`` naming the file.
        """
        local = await self.assets.ensure_model(reference, progress=progress)
        return await check_pulled(reference, local, progress)

    def pull(self, reference: str) -> EventStream[AssetEvent]:
        """Download ``reference`` (if needed), streaming its :data:`AssetEvent` s.

        The stream ends after ``AssetComplete``; a failure is streamed as ``AssetFailed``
        and then raised. Closing the stream early stops the download (the partial file
        is kept, and the next pull resumes it).
        """
        return EventStream(self._pull(reference))

    async def _pull(self, reference: str) -> AsyncGenerator[AssetEvent, None]:
        assets, tg = self.assets, self._task_group()
        send, receive = anyio.create_memory_object_stream[AssetEvent](16)
        scope = anyio.CancelScope()
        stopped = anyio.Event()
        failure: list[Exception] = []

        async def fetch() -> None:
            try:
                with scope, send:
                    local = await assets.ensure_model(reference, progress=send.send)
                    await check_pulled(reference, local, send.send)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the reader left
            except Exception as exc:  # raised to the reader, never into the task group
                failure.append(exc)
            finally:
                stopped.set()

        tg.start_soon(fetch)
        try:
            with receive:
                async for event in receive:
                    yield event
        finally:
            # Closing the stream returns once the download has stopped and its partial is saved.
            scope.cancel()
            with anyio.CancelScope(shield=True):
                await stopped.wait()
        if failure:
            raise failure[0]

    async def load(
        self, model: str, options: LoadOptions | None = None, *, keep_alive: float | None = None
    ) -> ModelLoaded:
        """Download (when the engine needs weights) and load ``model`` ahead of requests.

        ``keep_alive`` is how long the model stays loaded while idle, in seconds, as a
        request's own (``-1``: until unloaded; ``None``: the brainstem's strategy).
        """
        return await self._call(
            LoadModel(model=model, options=options or LoadOptions(), keep_alive=keep_alive),
            ModelLoaded,
        )

    async def list_models(self) -> tuple[ModelStatus, ...]:
        """Downloaded models, and loaded ones, with their state and expiry."""
        return (await self._call(ListModels(), ModelList)).models

    async def ps(self) -> tuple[ModelStatus, ...]:
        """The loaded models; ``expires_at`` is the Unix time each unloads (``None``: never)."""
        return tuple(m for m in await self.list_models() if m.loaded)

    async def unload(self, model: str) -> str:
        """Unload ``model`` now; returns the brainstem's acknowledgement."""
        return (await self._call(Unload(model=model), Ack)).detail

    async def remove_model(self, reference: str) -> bool:
        """Unload ``reference`` and delete its files; ``False`` when it was not downloaded.

        A created model is only forgotten: its base's files stay."""
        await self.unload(reference)
        if await CreatedModels(self.assets).remove(reference):
            return True
        return await self.assets.remove_model(reference)

    async def create_model(self, name: str, entry: ModelEntry) -> None:
        """Store ``entry`` (it names a ``base``) as the created model ``name``; its local
        adapter files must be LoRA adapter GGUFs for the base's architecture."""
        await check_created_adapters(self.assets, entry)
        await CreatedModels(self.assets).create(name, entry)
        await self.unload(name)  # its next request loads it as it now is

    async def copy_model(self, source: str, destination: str) -> None:
        """Make ``destination`` a created model that runs as ``source`` does."""
        await CreatedModels(self.assets).copy(source, destination)
        await self.unload(destination)

    async def model_entry(self, model: str) -> ModelEntry | None:
        """The manifest entry of the alias ``model`` (base, defaults filled in), if any."""
        return created_entry(await self.assets.manifest(), model)

    async def _with_created(self, command: Infer) -> Infer:
        return with_created(await self.model_entry(command.model), command)

    # -- inference ------------------------------------------------------------------------

    def infer(
        self,
        model: str,
        prompt_or_messages: str | Sequence[MessageLike],
        /,
        *,
        config: InferenceConfig | None = None,
        keep_alive: float | None = None,
        tools: Sequence[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        response_format: FormatLike | None = None,
    ) -> InferenceStream:
        """Stream the events of one request: a ``str`` is a prompt, a sequence chat messages.

        ``keep_alive`` (seconds) overrides the brainstem's strategy for this model:
        ``0`` unloads after the request, a negative value keeps it loaded. ``tools`` the
        model may call as ``tool_choice`` allows (``"auto"``, ``"required"``, ``"none"``
        or a tool's name); ``response_format`` is ``"json"`` or a JSON Schema to answer in.
        """
        given = prompt_or_messages
        command = Infer(
            model=model,
            prompt=given if isinstance(given, str) else None,
            messages=None if isinstance(given, str) else as_messages(given),
            config=config or InferenceConfig(),
            keep_alive=keep_alive,
            tools=as_tools(tools),
            tool_choice=as_tool_choice(tool_choice),
            response_format=as_response_format(response_format),
        )
        return InferenceStream(self, self.client, command, self._with_created)

    async def chat(
        self,
        model: str,
        messages: Sequence[MessageLike],
        config: InferenceConfig | None = None,
        **options: Unpack[RequestOptions],
    ) -> Answer:
        """The model's reply to ``messages``, collected (tool calls in ``Answer.tool_calls``).

        ``options`` are :meth:`infer`'s: ``keep_alive``, ``tools``, ``tool_choice`` and
        ``response_format``.
        """
        given: object = messages
        if isinstance(given, str):
            raise ProtocolError("chat() takes a sequence of messages; use complete() for a prompt")
        return await self.infer(model, messages, config=config, **options).answer()

    async def complete(
        self,
        model: str,
        prompt: str,
        config: InferenceConfig | None = None,
        **options: Unpack[RequestOptions],
    ) -> Answer:
        """The model's answer to ``prompt``, collected (``config.raw`` skips the chat template).

        ``options`` are :meth:`infer`'s, as for :meth:`chat`.
        """
        if not isinstance(prompt, str):
            raise ProtocolError(f"complete() takes a prompt string, got {prompt!r}")
        return await self.infer(model, prompt, config=config, **options).answer()

    async def embed(
        self,
        model: str,
        texts: str | Sequence[str],
        *,
        truncate: bool = False,
        dimensions: int | None = None,
        keep_alive: float | None = None,
    ) -> Embeddings:
        """One L2-normalised vector per text (``Embeddings.vectors``), in order.

        The model loads as for inference. A text longer than the context raises
        :class:`~rusty_genius_core.ContextLengthError` unless ``truncate``.
        """
        given: object = texts
        if isinstance(given, str):
            texts = (given,)
        elif isinstance(given, bytes) or not isinstance(given, Sequence):
            raise ProtocolError(f"embed() takes a text or a sequence of texts, got {given!r}")
        command = Embed(
            model=model,
            inputs=tuple(texts),
            truncate=truncate,
            dimensions=dimensions,
            keep_alive=keep_alive,
        )
        return await self._call(command, Embeddings)

    async def cancel(self, request_id: str) -> str:
        """Stop request ``request_id`` (queued or running); it still ends with ``Complete``."""
        return (await self._call(Cancel(target=request_id), Ack)).detail
