"""What ``run`` and ``chat`` answer with: the running server, or a ``Genius`` of their own.

A :class:`Session` gives both the same face: ``infer`` yields the library's events either
way, ``ps`` the loaded models, ``where`` says what answers (for the greeting and
``/show info``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from facecrab import AssetAuthority, OfflineError
from rusty_genius_core import AssetComplete, AssetFailed, AssetProgress, AssetStarted

from .._answer import AnswerBuilder
from .._backend import DEFAULT_PROBE_TIMEOUT, choose_backend
from .._genius import Genius
from ._where import open_remote

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from contextlib import AbstractAsyncContextManager
    from typing import Protocol

    from rusty_genius_core import ChatMessage, InferenceConfig, ModelStatus

    from .._streams import RequestEvent
    from ._parsed import ChatCommand, Options, RunCommand
    from ._render import EventRenderer, Output

    class Session(Protocol):
        """The running server (``_remote.Remote``) or this process's own ``Genius``."""

        @property
        def where(self) -> str: ...

        def infer(
            self,
            model: str,
            messages: str | Sequence[ChatMessage],
            /,
            *,
            config: InferenceConfig,
            keep_alive: float | None,
        ) -> AbstractAsyncContextManager[AsyncIterator[RequestEvent]]: ...

        async def ps(self) -> tuple[ModelStatus, ...]: ...


__all__ = ["authority", "open_session", "stream_answer"]  # and, for type checks, Session

_ASSET_EVENTS = (AssetStarted, AssetProgress, AssetComplete, AssetFailed)


def authority(options: Options) -> AssetAuthority:
    return AssetAuthority(home=options.home, cache=options.cache, endpoint=options.endpoint)


class _Local:
    """A ``Genius`` of this process's own, as a :class:`Session`: its ``infer`` and ``ps``
    already are a session's."""

    def __init__(self, genius: Genius) -> None:
        self.genius = genius
        self.infer = genius.infer
        self.ps = genius.ps

    @property
    def where(self) -> str:
        return f"{self.genius.backend}, in-process"


@contextlib.asynccontextmanager
async def open_session(options: Options, out: Output, model: str) -> AsyncIterator[Session]:
    """The server at ``GENIUS_HOST`` when one answers, else a ``Genius`` for ``model``."""
    async with open_remote(options, out) as remote:
        if remote is not None:
            yield remote
            return
    async with authority(options) as assets:
        with contextlib.suppress(OfflineError):  # a repo the hub must list first: loading fetches
            await assets.resolve(model, network=False)
        choice = await choose_backend(
            options.backend, model, assets, probe_timeout=DEFAULT_PROBE_TIMEOUT
        )
        if choice.notice:  # on stderr, also with --json: stdout stays events only
            out.note(choice.notice)
        # One user, one request at a time: one sequence (no N-fold context to allocate).
        async with Genius(backend=choice.backend, assets=assets, parallelism=1) as genius:
            yield _Local(genius)


async def stream_answer(
    session: Session,
    command: RunCommand | ChatCommand,
    messages: str | Sequence[ChatMessage],
    renderer: EventRenderer,
) -> AnswerBuilder:
    """Print one answer as it streams; the builder holds it whole (and its usage)."""
    builder = AnswerBuilder(command.model)
    try:
        async with session.infer(
            command.model, messages, config=command.config, keep_alive=command.keep_alive
        ) as events:
            async for event in events:
                renderer.event(event)
                if not isinstance(event, _ASSET_EVENTS):  # a download before the answer
                    builder.feed(event)
    finally:
        renderer.close()
    return builder
