"""``genius chat`` at a terminal: a pseudo-terminal is its stdin, stdout and stderr.

The test types keys into the terminal and waits, with a deadline, for what the chat
writes back: the Up arrow recalls the last line (prompt_toolkit, history in
``GENIUS_HOME``), Ctrl-C during an answer stops it (the terminal sends SIGINT, the
request is cancelled on the server) and the chat goes on, ``exit`` leaves.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import pytest

from rusty_genius import FinishReason
from rusty_genius.server import GeniusApp, create_app, open_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence

    from rusty_genius import Genius

ALIAS = "smollm2-135m-instruct"
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>]")


class Terminal:
    """A process on a pseudo-terminal of its own (its controlling terminal, 24x80)."""

    def __init__(self, command: Sequence[str], env: dict[str, str]) -> None:
        self.leader, follower = os.openpty()
        fcntl.ioctl(self.leader, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

        def controlling_terminal() -> None:  # in the child: Ctrl-C on the terminal is SIGINT
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(
            command,
            env={**env, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"},
            stdin=follower,
            stdout=follower,
            stderr=follower,
            preexec_fn=controlling_terminal,
        )
        os.close(follower)
        self.seen = b""
        self.mark = 0

    @property
    def text(self) -> str:
        """What the terminal shows so far, escape sequences removed."""
        return _ESCAPES.sub(b"", self.seen).decode(errors="replace").replace("\r", "")

    def expect(self, pattern: str, within: float = 60) -> str:
        """Wait for ``pattern`` (a regex) after the last match; return what it matched."""
        deadline = time.monotonic() + within
        while True:
            found = re.compile(pattern).search(self.text, self.mark)
            if found:
                self.mark = found.end()
                return found[0]
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(
                    f"no {pattern!r} after {self.text[self.mark :]!r} raw {self.seen[-300:]!r}"
                )

    def _read(self, within: float) -> bool:
        ready, _, _ = select.select([self.leader], [], [], within)
        if not ready:
            return False
        try:
            chunk = os.read(self.leader, 65536)
        except OSError:  # EIO: the process ended and closed the terminal
            return False
        self.seen += chunk
        return bool(chunk)

    def send(self, keys: str) -> None:
        os.write(self.leader, keys.encode())

    def close(self) -> int:
        """Wait for the process to end (reading what it still writes); its exit code."""
        deadline = time.monotonic() + 60
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.process.poll() is None:
            self.process.kill()
        os.close(self.leader)
        return self.process.wait()


@contextlib.contextmanager
def terminal(cli: Any, *args: str, **env: str) -> Iterator[Terminal]:
    term = Terminal(cli.command(*args), cli.environment(**env))
    try:
        yield term
    finally:
        if term.process.poll() is None:
            term.process.kill()
            term.close()


USAGE = r"genius: \d+ tokens \(prompt \d+\)[^\n]*finish \w+\n"


def test_up_arrow_recalls_the_last_line_and_exit_leaves(offline_cli, async_backend: str) -> None:
    chat = ("chat", "--backend", "pinky", "--hide-thinking", ALIAS)
    with terminal(offline_cli, *chat, GENIUS_ASYNC_BACKEND=async_backend) as term:
        term.expect(r"chatting with smollm2-135m-instruct \(pinky, in-process\)")
        term.expect(">>>")
        term.send("hello history\r")
        term.expect(r"\nhello history\n" + USAGE)
        term.expect(">>>")
        term.send("\x1b[A")  # Up
        term.expect("hello history")
        term.send("\r")
        term.expect(r"\nhello history\n" + USAGE)
        term.expect(">>>")
        term.send("\x03")  # Ctrl-C at an empty prompt: a hint, and the chat goes on
        term.expect("use /bye, exit or Ctrl-D to leave")
        term.expect(">>>")
        term.send('"""first line\r')
        term.expect(r"\.\.\.")
        term.send('second line"""\r')
        term.expect(r"\nfirst line\nsecond line\n" + USAGE)
        term.expect(">>>")
        term.send("exit\r")
        assert term.close() == 0, term.text
    history = (offline_cli.home / "chat_history").read_text()
    assert "+hello history\n" in history
    assert "exit" in history


def test_set_show_and_unknown_commands_in_the_chat(offline_cli) -> None:
    chat = ("chat", "--backend", "pinky", ALIAS)
    with terminal(offline_cli, *chat) as term:
        term.expect(">>>")
        term.send("/set parameter temperature 0\r")
        term.expect("genius: set parameter temperature to 0")
        term.send("/set parameter temperature 9\r")
        term.expect("genius: error: temperature must be between 0 and 5, got 9")
        term.send("/set parameter temprature 1\r")
        term.expect("unknown parameter 'temprature'; did you mean 'temperature'")
        term.send("/show info\r")
        term.expect(r"model +smollm2-135m-instruct")
        term.expect(r"temperature +0\n")
        term.send("/shw\r")
        term.expect(r"unknown command '/shw'; did you mean '/show'\?")
        term.send("/?\r")
        term.expect(r"/set parameter NAME VALUE")
        term.send("/bye\r")
        assert term.close() == 0, term.text


@contextlib.asynccontextmanager
async def paced_server(
    make_genius: Callable[..., Genius], pacer: Any
) -> AsyncIterator[tuple[str, GeniusApp]]:
    async with make_genius(engine_factory=pacer.factory()) as genius:
        app = create_app(genius)
        async with open_server(app, port=0) as address:
            yield address.url, app


async def cancelled(app: GeniusApp, pacer: Any) -> None:
    """Until the server saw the client go, then the engine stopped at its next step."""
    with anyio.fail_after(60):
        await app.wait_for(lambda s: s.disconnected == 1)
        await pacer.grant()
        await pacer.wait(lambda: bool(pacer.finished))


def test_ctrl_c_stops_the_answer_and_the_chat_goes_on(
    offline_cli, make_genius: Callable[..., Genius], pacer: Any, async_backend: str
) -> None:
    """The answer waits for the test's permits: Ctrl-C arrives in the middle of it."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(paced_server(make_genius, pacer)) as (url, app),
    ):
        chat = ("chat", "--hide-thinking", ALIAS)
        env = {"GENIUS_HOST": url, "GENIUS_ASYNC_BACKEND": async_backend}
        with terminal(offline_cli, *chat, **env) as term:
            term.expect(f"chatting with smollm2-135m-instruct \\(the server at {url}\\)")
            term.expect(">>>")
            term.send("alpha beta gamma delta\r")
            portal.call(pacer.grant, 1)
            term.expect("delta\nalpha ")  # the answer (the line above is the echo)
            answer_at = term.mark
            term.send("\x03")  # the terminal is not raw while an answer streams: SIGINT
            term.expect("genius: stopped\n")
            term.expect(">>>")
            portal.call(cancelled, app, pacer)
            assert pacer.finished == [FinishReason.CANCELLED]
            assert "beta" not in term.text[answer_at:]
            term.send("one more\r")
            portal.call(pacer.grant, 2)
            term.expect(r"one more \n" + USAGE)
            term.expect(">>>")
            term.send("quit\r")
            assert term.close() == 0, term.text
    assert pacer.started == 2  # the stopped answer was not asked for again
    assert pacer.finished == [FinishReason.CANCELLED, FinishReason.STOP]


@pytest.mark.parametrize("keys", ["/exit\r", "\x04"])
def test_the_other_ways_out(offline_cli, keys: str) -> None:
    with terminal(offline_cli, "chat", "--backend", "pinky") as term:
        term.expect(">>>")
        term.send(keys)
        assert term.close() == 0, term.text


def test_run_with_a_model_and_no_prompt_on_a_terminal_opens_a_chat(offline_cli) -> None:
    with terminal(offline_cli, "run", "--backend", "pinky", "--hide-thinking", ALIAS) as term:
        term.expect(r"chatting with smollm2-135m-instruct \(pinky, in-process\)")
        term.expect(">>>")
        term.send("hi there\r")
        term.expect(r"\nhi there\n" + USAGE)
        term.send("/bye\r")
        assert term.close() == 0, term.text


def test_run_dash_on_a_terminal_says_it_reads_stdin(offline_cli) -> None:
    with terminal(offline_cli, "run", "--backend", "pinky", "--hide-thinking", ALIAS, "-") as term:
        term.expect("genius: reading the prompt from stdin; end it with Ctrl-D\n")
        term.send("typed words\n\x04")
        term.expect(r"\ntyped words\n" + USAGE)
        assert term.close() == 0, term.text
