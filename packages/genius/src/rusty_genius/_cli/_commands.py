"""What each ``genius`` command does, given its typed command (:mod:`._parsed`).

Each runs inside one event loop, opens its own asset authority and ``Genius`` (so its own
brainstem), and prints through :mod:`._render`.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, assert_never

import anyio.to_thread

from facecrab import AssetAuthority, OfflineError
from rusty_genius_core import (
    AssetComplete,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    ChatMessage,
    GeniusError,
    Role,
    to_dict,
)
from rusty_genius_cortex import read_gguf_info

from .._answer import AnswerBuilder
from .._backend import DEFAULT_PROBE_TIMEOUT, BackendName, choose_backend
from .._genius import Genius
from .._progress import ProgressBar
from .._serve._command import serve_command
from ._exit import _UsageError
from ._parsed import (
    ChatCommand,
    Command,
    InfoCommand,
    ListCommand,
    Options,
    PsCommand,
    PullCommand,
    RemoveCommand,
    RunCommand,
    ServeCommand,
)
from ._render import ChatView, EventRenderer, Output, show_info, show_models, show_ps
from ._stdin import read_stdin

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .._agent_args import MessageLike
    from .._streams import InferenceStream

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
        case PsCommand():
            await _ps(command, out)
        case InfoCommand():
            await _info(command, out)
        case RunCommand():
            await _run(command, out)
        case ChatCommand():
            await _chat(command, out)
        case ServeCommand():
            emit = out.emit if out.json else None
            await serve_command(command.arguments, info=out.info, note=out.note, emit=emit)
        case _:
            assert_never(command)


def _authority(options: Options) -> AssetAuthority:
    return AssetAuthority(home=options.home, cache=options.cache, endpoint=options.endpoint)


@contextlib.asynccontextmanager
async def _genius(options: Options) -> AsyncIterator[Genius]:
    """``Genius`` on the asset directories and with the engine ``options`` name."""
    async with (
        _authority(options) as assets,
        Genius(backend=options.backend, assets=assets) as genius,
    ):
        yield genius


async def _pull(command: PullCommand, out: Output) -> None:
    progress = ProgressBar(out.stderr, tty=out.err_tty)
    async with _genius(command.options) as genius:
        try:
            async with genius.pull(command.model) as events:
                async for event in events:
                    if out.json:
                        out.emit(to_dict(event))
                    else:
                        progress.event(event)
                    if isinstance(event, AssetComplete) and not out.json:
                        out.line(event.path)
        finally:
            progress.close()


async def _list(command: ListCommand, out: Output) -> None:
    async with _genius(command.options) as genius:
        models = [m for m in await genius.list_models() if m.downloaded]
    show_models(models, out)


async def _rm(command: RemoveCommand, out: Output) -> None:
    ref = command.model
    async with _genius(command.options) as genius:
        removed = await genius.remove_model(ref)
    if not removed:
        raise GeniusError(f"model {ref!r} is not downloaded; nothing to remove")
    if out.json:
        out.emit({"type": "removed", "model": ref})
    else:
        out.info(f"removed {ref}")


async def _ps(command: PsCommand, out: Output) -> None:
    async with _genius(command.options) as genius:
        models = await genius.ps()
    show_ps(models, out)
    if not models and not out.json:
        out.info("(each genius command runs its own brainstem; use /ps inside `genius chat`)")


async def _info(command: InfoCommand, out: Output) -> None:
    options, ref = command.options, command.model
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
    info = await anyio.to_thread.run_sync(read_gguf_info, local.path)
    show_info(local, info, out)


async def _prepare(options: Options, out: Output, assets: AssetAuthority, ref: str) -> BackendName:
    """Check ``ref`` offline (an unknown alias is bad input) and pick the engine."""
    with contextlib.suppress(OfflineError):  # a repo the hub must list first: the load fetches it
        await assets.resolve(ref, network=False)
    choice = await choose_backend(options.backend, ref, assets, probe_timeout=DEFAULT_PROBE_TIMEOUT)
    if choice.notice:  # on stderr, also with --json: stdout stays events only
        out.note(choice.notice)
    return choice.backend


async def _stream(stream: InferenceStream, renderer: EventRenderer) -> AnswerBuilder:
    builder = AnswerBuilder(stream.command.model)
    try:
        async with stream:
            async for event in stream:
                renderer.event(event)
                if not isinstance(
                    event, AssetStarted | AssetProgress | AssetComplete | AssetFailed
                ):
                    builder.feed(event)
    finally:
        renderer.close()
    return builder


async def _run(command: RunCommand, out: Output) -> None:
    options, ref, prompt = command.options, command.model, command.prompt
    if prompt is None:
        if sys.stdin.isatty():
            raise _UsageError("run needs a PROMPT (or '-' with the prompt on stdin)")
        if options.debug:
            out.info("reading the prompt from stdin")
        prompt = await read_stdin(sys.stdin.read)
    if not prompt.strip():
        raise _UsageError("the prompt is empty")
    async with _authority(options) as assets:
        backend = await _prepare(options, out, assets, ref)
        # One user, one request at a time: one sequence (no N-fold context to allocate).
        async with Genius(backend=backend, assets=assets, parallelism=1) as genius:
            renderer = EventRenderer(out, hide_thinking=not command.config.show_thinking)
            messages: str | list[MessageLike] = prompt
            if command.system is not None:
                messages = [
                    ChatMessage(role=Role.SYSTEM, content=command.system),
                    ChatMessage(role=Role.USER, content=prompt),
                ]
            stream = genius.infer(
                ref, messages, config=command.config, keep_alive=command.keep_alive
            )
            await _stream(stream, renderer)
            renderer.usage_line()


async def _chat(command: ChatCommand, out: Output) -> None:
    options, ref = command.options, command.model
    view = ChatView(out, interactive=sys.stdin.isatty())
    system = [ChatMessage(role=Role.SYSTEM, content=command.system)] if command.system else []
    history: list[ChatMessage] = list(system)
    async with _authority(options) as assets:
        backend = await _prepare(options, out, assets, ref)
        # One user, one request at a time: one sequence (no N-fold context to allocate).
        async with Genius(backend=backend, assets=assets, parallelism=1) as genius:
            view.greet(ref, backend)
            while True:
                view.prompt()
                line = await read_stdin(sys.stdin.readline)
                if not line:
                    view.end()
                    break
                text = line.rstrip("\r\n")
                said = text.strip()
                if not said:
                    continue
                if said in ("/exit", "/bye", "/quit"):
                    break
                if said == "/clear":
                    history = list(system)
                    continue
                if said == "/ps":
                    show_ps(await genius.ps(), out)
                    continue
                if said in ("/help", "/?"):
                    view.help()
                    continue
                history.append(ChatMessage(role=Role.USER, content=text))
                renderer = EventRenderer(out, hide_thinking=not command.config.show_thinking)
                stream = genius.infer(
                    ref, history, config=command.config, keep_alive=command.keep_alive
                )
                answer = (await _stream(stream, renderer)).build()
                renderer.usage_line()
                history.append(ChatMessage(role=Role.ASSISTANT, content=answer.content))
