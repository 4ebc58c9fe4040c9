"""What each ``genius`` command does, given its typed command (:mod:`._parsed`).

Each runs inside one event loop. When ``genius serve`` answers at ``GENIUS_HOST`` a
command is its client (:mod:`._where`, :mod:`._remote`); otherwise it opens its own asset
authority and ``Genius`` (so its own brainstem). It prints through :mod:`._render`.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, assert_never

import anyio.to_thread

from facecrab import AssetAuthority, OfflineError
from rusty_genius_core import AssetComplete, ChatMessage, GeniusError, Role, to_dict
from rusty_genius_cortex import read_gguf_info

from .._created import created_entry, created_statuses
from .._genius import Genius
from .._progress import ProgressBar
from ._create import copy_model, create_model
from ._created_info import created_of_entry
from ._exit import _UsageError
from ._parsed import (
    ChatCommand,
    Command,
    CopyCommand,
    CreateCommand,
    InfoCommand,
    ListCommand,
    Options,
    PsCommand,
    PullCommand,
    RemoveCommand,
    RunCommand,
    ServeCommand,
    StopCommand,
)
from ._render import EventRenderer, Output, info_record, show_info, show_models, show_ps
from ._session import authority, open_session, stream_answer
from ._stdin import read_stdin
from ._where import ServerRefusedError, open_remote

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from rusty_genius_core import AssetEvent


__all__ = ["execute"]


async def execute(command: Command, out: Output) -> None:
    """Run ``command`` to its end, printing to ``out``."""
    match command:
        case PullCommand():
            await _pull(command, out)
        case ListCommand():
            await _list(command, out)
        case RemoveCommand():
            await _rm(command, out)
        case CreateCommand():
            await create_model(command, out)
        case CopyCommand():
            await copy_model(command, out)
        case PsCommand():
            await _ps(command, out)
        case InfoCommand():
            await _info(command, out)
        case RunCommand():
            await _run(command, out)
        case ChatCommand():
            from ._chat import run_chat  # here: only a chat pays for its modules

            await run_chat(command, out)
        case StopCommand():
            await _stop(command, out)
        case ServeCommand():
            from .._serve._command import serve_command  # the server: only for serve

            emit = out.emit if out.json else None
            await serve_command(command.arguments, info=out.info, note=out.note, emit=emit)
        case _:
            assert_never(command)


@contextlib.asynccontextmanager
async def _genius(options: Options) -> AsyncIterator[Genius]:
    """``Genius`` on the asset directories and with the engine ``options`` name."""
    async with (
        authority(options) as assets,
        Genius(backend=options.backend, assets=assets) as genius,
    ):
        yield genius


async def _pull(command: PullCommand, out: Output) -> None:
    progress = ProgressBar(out.stderr, tty=out.err_tty)
    try:
        async with open_remote(command.options, out) as remote:
            if remote is not None:
                async with remote.pull(command.model) as events:
                    await _show_pull(events, out, progress, remote=True)
                return
        async with _genius(command.options) as genius, genius.pull(command.model) as events:
            await _show_pull(events, out, progress, remote=False)
    finally:
        progress.close()


async def _show_pull(
    events: AsyncIterator[AssetEvent], out: Output, progress: ProgressBar, *, remote: bool
) -> None:
    async for event in events:
        if out.json:
            out.emit(to_dict(event))
        else:
            progress.event(event)
        if isinstance(event, AssetComplete) and not out.json:
            if remote:  # the file is on the server's machine
                progress.close()
                out.info(f"pulled {event.reference} on the server at {event.path}")
            else:
                out.line(event.path)


async def _list(command: ListCommand, out: Output) -> None:
    async with open_remote(command.options, out) as remote:
        if remote is not None:
            models = await remote.list_models()
        else:
            async with _genius(command.options) as genius:
                models = tuple(m for m in await genius.list_models() if m.downloaded)
                models += tuple(s for s, _ in await created_statuses(genius.assets))
    show_models(models, out)


async def _rm(command: RemoveCommand, out: Output) -> None:
    ref = command.model
    async with open_remote(command.options, out) as remote:
        if remote is not None:
            removed = await remote.remove_model(ref)
        else:
            async with _genius(command.options) as genius:
                removed = await genius.remove_model(ref)
    if not removed:
        raise GeniusError(f"model {ref!r} is not downloaded; nothing to remove")
    if out.json:
        out.emit({"type": "removed", "model": ref})
    else:
        out.info(f"removed {ref}")


async def _ps(command: PsCommand, out: Output) -> None:
    async with open_remote(command.options, out) as remote:
        if remote is not None:
            show_ps(await remote.ps(), out, empty=f"no model is loaded on {remote.where}")
            return
    async with _genius(command.options) as genius:
        models = await genius.ps()
    show_ps(models, out)
    if not models and not out.json:
        out.info(
            "(no server is running, and each genius command runs its own brainstem: "
            "start `genius serve` to keep models loaded between commands)"
        )


async def _stop(command: StopCommand, out: Output) -> None:
    ref = command.model
    async with open_remote(command.options, out) as remote:
        if remote is not None:
            if ref not in {m.name for m in await remote.ps()}:
                raise ServerRefusedError(f"model {ref!r} is not loaded on {remote.where}")
            await remote.unload(ref)
            where = remote.where
        else:
            where = None
    if out.json:
        out.emit({"type": "unloaded", "model": ref, "server": where is not None})
    elif where is not None:
        out.info(f"unloaded {ref} on {where}")
    else:
        out.info(f"no server is running, so {ref} is not loaded anywhere; nothing to stop")


async def _info(command: InfoCommand, out: Output) -> None:
    options, ref = command.options, command.model
    async with open_remote(options, out) as remote:
        if remote is not None:
            record = await remote.show(ref)
            if record is None:
                raise GeniusError(
                    f"model {ref!r} is not downloaded on {remote.where}; "
                    f"run `genius pull {ref}` first"
                )
            show_info(record, out)
            return
    # TODO(find_local): ask AssetAuthority.find_local(ref) instead of a second, offline authority.
    offline = AssetAuthority(
        home=options.home, cache=options.cache, endpoint=options.endpoint, offline=True
    )
    async with offline:
        try:
            local = await offline.ensure_model(ref)
        except OfflineError:
            raise GeniusError(
                f"model {ref!r} is not downloaded; run `genius pull {ref}` first"
            ) from None
        created = created_of_entry(created_entry(await offline.manifest(), ref))
    info = await anyio.to_thread.run_sync(read_gguf_info, local.path)
    show_info({**info_record(local, info), "created": created}, out)


async def _run(command: RunCommand, out: Output) -> None:
    options, ref, prompt = command.options, command.model, command.prompt
    if prompt is None:
        terminal = sys.stdin.isatty()
        if terminal and not command.stdin:  # `genius run [MODEL]` on a terminal: a conversation
            from ._chat import run_chat

            await run_chat(command, out)
            return
        if terminal:
            out.info("reading the prompt from stdin; end it with Ctrl-D")
        elif options.verbose or options.debug:
            out.info("reading the prompt from stdin")
        prompt = await read_stdin(sys.stdin.read)
    if not prompt.strip():
        raise _UsageError("the prompt is empty")
    messages: str | list[ChatMessage] = prompt
    if command.system is not None:
        messages = [
            ChatMessage(role=Role.SYSTEM, content=command.system),
            ChatMessage(role=Role.USER, content=prompt),
        ]
    async with open_session(options, out, ref) as session:
        renderer = EventRenderer(out, hide_thinking=not command.config.show_thinking)
        await stream_answer(session, command, messages, renderer)
        renderer.usage_line()
