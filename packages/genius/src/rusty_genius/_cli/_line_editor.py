"""The chat's line editor: prompt_toolkit, run in a worker thread, history in ``GENIUS_HOME``.

prompt_toolkit's ``prompt`` blocks (it runs an asyncio loop of its own), so it runs in a
worker thread and the chat's event loop, asyncio or trio, stays free. The terminal is in
raw mode while a line is edited, so Ctrl-C arrives as a key, not a signal: at an empty
prompt it raises :class:`~._chat.LineInterrupted` (the chat says how to leave), on a
typed line it clears the line. Ctrl-D at an empty prompt ends the input.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final, TextIO

import anyio.to_thread
from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.output import create_output

from facecrab import GeniusPaths

from ._chat import LineInterrupted

if TYPE_CHECKING:
    from pathlib import Path

    from prompt_toolkit.key_binding import KeyPressEvent

__all__ = ["HISTORY_FILE", "LineEditor"]

HISTORY_FILE: Final = "chat_history"
"""The file under ``GENIUS_HOME`` that keeps the lines typed into ``genius chat``."""


def _bindings() -> KeyBindings:
    keys = KeyBindings()

    @keys.add("c-c")
    def _ctrl_c(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer
        if buffer.text:
            buffer.reset()
        else:
            event.app.exit(exception=LineInterrupted())

    return keys


class LineEditor:
    """Reads lines from the terminal with editing and a history kept in ``history``."""

    def __init__(self, history: Path, stream: TextIO) -> None:
        self._history = history
        self._stream = stream
        self._session: PromptSession[str] | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_home(cls, home: str | None, stream: TextIO) -> LineEditor:
        return cls(GeniusPaths.from_env(home=home).home / HISTORY_FILE, stream)

    def _open(self) -> PromptSession[str]:
        if self._session is None:
            self._history.parent.mkdir(parents=True, exist_ok=True)
            self._session = PromptSession(
                history=FileHistory(str(self._history)),
                key_bindings=_bindings(),
                output=create_output(stdout=self._stream),
            )
        return self._session

    def _read_blocking(self, prompt: str) -> str | LineInterrupted | None:
        with self._lock:
            try:
                return self._open().prompt(prompt, handle_sigint=False)
            except EOFError:
                return None
            except (LineInterrupted, KeyboardInterrupt):
                return LineInterrupted()

    async def read(self, prompt: str) -> str | None:
        """The next line (``None``: Ctrl-D); raises :class:`LineInterrupted` for Ctrl-C."""
        # abandon_on_cancel: a prompt waiting for a key must not hold up the chat's end
        line = await anyio.to_thread.run_sync(self._read_blocking, prompt, abandon_on_cancel=True)
        if isinstance(line, LineInterrupted):
            raise line
        return line
