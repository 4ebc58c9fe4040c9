"""``genius chat`` (and ``genius run MODEL`` on a terminal): a conversation, as Ollama's.

On a terminal (stdin and stderr both), lines are read with the line editor of
:mod:`._line_editor` (prompt_toolkit: arrows, history kept in ``GENIUS_HOME``); otherwise
(a pipe, a file) plainly from stdin, silently. ``/bye``, ``/exit`` and a bare ``exit`` or
``quit`` leave, as does end of input; ``\"\"\"`` starts a multi-line message that ends at
the next ``\"\"\"``; ``/set``, ``/show``, ``/clear``, ``/ps`` and ``/?`` are commands.

Ctrl-C during an answer (from a terminal) stops the answer, cancelling its request, and
the prompt comes back; the unanswered message is dropped from the conversation. Ctrl-C
at an empty edited prompt says how to leave.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Final, TypeAlias

import anyio
import anyio.abc
import attrs

from rusty_genius_core import ChatMessage, ConfigError, Role
from rusty_genius_core._record import FieldsRepr

from ._chat_settings import PARAMETERS, describe_parameters, set_parameter
from ._parsed import ChatCommand, RunCommand
from ._render import ChatView, EventRenderer, show_ps
from ._session import open_session, stream_answer
from ._stdin import read_stdin
from ._suggest import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._render import Output
    from ._session import Session

__all__ = ["CHAT_COMMANDS", "LineInterrupted", "run_chat"]

_MULTILINE: Final = '"""'
_LEAVE: Final = frozenset({"/bye", "/exit", "/quit", "exit", "quit"})
CHAT_COMMANDS: Final = ("/set", "/show", "/clear", "/ps", "/bye", "/exit", "/quit", "/?", "/help")
_HELP: Final = f"""\
commands:
  /set parameter NAME VALUE  set a sampling parameter: {", ".join(PARAMETERS)}
  /set system [TEXT]         set (or, without TEXT, remove) the system message
  /show info                 the model, what answers it, and the parameters
  /clear                     forget the conversation
  /ps                        the loaded models
  /bye, /exit, exit, quit    leave (Ctrl-D too)
  /?, /help                  this help
{_MULTILINE} begins a multi-line message and {_MULTILINE} ends it; Ctrl-C stops an answer."""
_LEAVE_HINT: Final = "use /bye, exit or Ctrl-D to leave"


class LineInterrupted(Exception):
    """Ctrl-C at an empty prompt of the line editor (which reads it as a key)."""


@attrs.define(repr=False)
class _Chat(FieldsRepr):
    """The conversation: the command as ``/set`` left it, and the messages so far."""

    command: ChatCommand | RunCommand
    history: list[ChatMessage] = attrs.Factory(list)

    def messages(self) -> list[ChatMessage]:
        system = self.command.system
        head = [ChatMessage(role=Role.SYSTEM, content=system)] if system else []
        return head + self.history


Reader: TypeAlias = "Callable[[str], Awaitable[str | None]]"
"""Reads one line after showing its prompt; ``None`` at the end of input."""


async def run_chat(command: ChatCommand | RunCommand, out: Output) -> None:
    """Chat with ``command.model`` until the user leaves or input ends."""
    interactive = sys.stdin.isatty()
    view = ChatView(out, interactive=interactive)
    editing = interactive and out.stderr.isatty()
    chat = _Chat(command)
    async with open_session(command.options, out, command.model) as session:
        if editing:
            from ._line_editor import LineEditor  # prompt_toolkit: only for a person typing

            read: Reader = LineEditor.for_home(command.options.home, out.stderr).read
        else:
            read = _plain_reader(view)
        view.greet(command.model, session.where)
        while True:
            try:
                text = await _read_message(read)
            except LineInterrupted:
                out.info(_LEAVE_HINT)
                continue
            if text is None:
                view.end()
                return
            said = text.strip()
            if not said:
                continue
            if said in _LEAVE:
                return
            if said.startswith("/") and "\n" not in said:
                await _command(said, chat, session, out)
                continue
            await _turn(chat, session, text, out, stoppable=interactive)


def _plain_reader(view: ChatView) -> Reader:
    async def read(prompt: str) -> str | None:
        view.prompt(prompt)
        line = await read_stdin(sys.stdin.readline)
        return line.rstrip("\r\n") if line else None

    return read


async def _read_message(read: Reader) -> str | None:
    """One message: a line, or the lines from a ``\"\"\"`` to the next; ``None`` at the end."""
    line = await read(">>> ")
    if line is None or not line.lstrip().startswith(_MULTILINE):
        return line
    first = line.lstrip()[len(_MULTILINE) :]
    if first.rstrip().endswith(_MULTILINE):
        return first.rstrip()[: -len(_MULTILINE)]
    lines = [first] if first else []
    while True:
        more = await read("... ")
        if more is None:
            return "\n".join(lines)
        if more.rstrip().endswith(_MULTILINE):
            lines.append(more.rstrip()[: -len(_MULTILINE)])
            return "\n".join(lines).strip("\n")
        lines.append(more)


async def _turn(chat: _Chat, session: Session, text: str, out: Output, *, stoppable: bool) -> None:
    """Answer ``text``; Ctrl-C (when ``stoppable``) stops the answer and forgets the message."""
    chat.history.append(ChatMessage(role=Role.USER, content=text))
    renderer = EventRenderer(out, hide_thinking=not chat.command.config.show_thinking)
    stopped = anyio.Event()
    answer = None
    async with anyio.create_task_group() as tasks:
        if stoppable:
            await tasks.start(_stop_on_ctrl_c, tasks.cancel_scope, stopped)
        answer = await stream_answer(session, chat.command, chat.messages(), renderer)
        tasks.cancel_scope.cancel()
    if stopped.is_set() or answer is None:
        chat.history.pop()
        if not renderer.at_line_start:
            out.write("\n")
        out.info("stopped")
        return
    renderer.usage_line()
    chat.history.append(ChatMessage(role=Role.ASSISTANT, content=answer.build().content))


async def _stop_on_ctrl_c(
    scope: anyio.CancelScope,
    stopped: anyio.Event,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Until cancelled: on SIGINT, set ``stopped`` and cancel ``scope``.

    asyncio's loop leaves SIGINT to Python's default handler when the receiver closes,
    not to the handler before it; that one is put back here.
    """
    previous = signal.getsignal(signal.SIGINT)
    try:
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                stopped.set()
                scope.cancel()
                return
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


async def _command(said: str, chat: _Chat, session: Session, out: Output) -> None:
    name, _, rest = said.partition(" ")
    words = rest.split()
    if name in ("/?", "/help"):
        out.stderr.write(_HELP + "\n")
        out.stderr.flush()
    elif name == "/clear":
        chat.history.clear()
        out.info("cleared the conversation")
    elif name == "/ps":
        show_ps(await session.ps(), out, empty=f"no model is loaded ({session.where})")
    elif name == "/set":
        _set(words, rest, chat, out)
    elif name == "/show":
        _show(words, chat, session, out)
    else:
        out.error(f"unknown command {name!r}{did_you_mean(name, CHAT_COMMANDS)}; /? lists them")


def _set(words: list[str], rest: str, chat: _Chat, out: Output) -> None:
    command = chat.command
    if words[:1] == ["parameter"] and len(words) >= 2:
        try:
            config = set_parameter(command.config, words[1], words[2:])
        except ConfigError as exc:
            out.error(str(exc))
            return
        chat.command = command.evolve(config=config)
        out.info(f"set parameter {words[1]} to {' '.join(words[2:])}")
    elif words[:1] == ["system"]:
        text = rest.strip()[len("system") :].strip()
        chat.command = command.evolve(system=text or None)
        out.info("set the system message" if text else "removed the system message")
    else:
        out.error("use /set parameter NAME VALUE or /set system TEXT (/? for help)")


def _show(words: list[str], chat: _Chat, session: Session, out: Output) -> None:
    if words not in (["info"], ["parameters"]):
        out.error("use /show info or /show parameters (/? for help)")
        return
    command = chat.command
    rows = (
        []
        if words == ["parameters"]
        else [("model", command.model), ("answered by", session.where)]
    )
    rows += describe_parameters(command.config)
    if words == ["info"]:
        rows.append(("system", command.system or "(none)"))
        rows.append(("messages", str(len(chat.history))))
    width = max(len(key) for key, _ in rows)
    out.stderr.write("".join(f"  {key.ljust(width)}  {value}\n" for key, value in rows))
    out.stderr.flush()
