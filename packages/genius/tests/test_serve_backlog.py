"""The listen backlog of ``genius serve`` holds a burst of connections (issue 18, defect 4).

A burst is made the hardest way for the server: 500 client sockets connect while the
event loop that would accept them is blocked (the test task connects them itself,
without yielding), so every handshake must be completed and queued by the kernel at
once. With too short a queue (the former fixed 128, or hypercorn's 100 that asyncio
listened with again) only backlog + 1 are established and the rest wait on SYN
retransmissions or SYN cookies. Then every one sends a request and must be answered.
"""

from __future__ import annotations

import select
import selectors
import socket
import time
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from rusty_genius._serve import _command
from rusty_genius._serve._server import DEFAULT_BACKLOG, listen_backlog_cap
from rusty_genius.server import create_app, open_server
from rusty_genius_core import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rusty_genius import Genius

BURST = 500
ANSWER_WITHIN = 60.0  # a bound on the wait, so a lost connection fails the test, not hangs it


def _connect_all(port: int, count: int) -> list[socket.socket]:
    """``count`` non-blocking connects in a row, without yielding to the event loop."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def _established_now(socks: list[socket.socket]) -> int:
    """How many finished their handshake already (loopback completes it inside connect)."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLOUT)
    ready = {fd for fd, events in poller.poll(0) if events & select.POLLOUT}
    return sum(
        1
        for sock in socks
        if sock.fileno() in ready and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    )


def _ask_all(socks: list[socket.socket], port: int) -> dict[str, int]:
    """Send one request on each socket and read each answer to its end; outcomes counted."""
    request = f"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    outcomes: dict[str, int] = {}
    replies: dict[socket.socket, bytearray] = {}
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_WRITE)
        deadline = time.monotonic() + ANSWER_WITHIN
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                outcome = None
                try:
                    if sock not in replies:
                        sock.sendall(request.encode())
                        replies[sock] = bytearray()
                        selector.modify(sock, selectors.EVENT_READ)
                        continue
                    data = sock.recv(65536)
                    replies[sock] += data
                    if not data:
                        outcome = bytes(replies[sock][:12]).decode(errors="replace") or "empty"
                except OSError as exc:
                    outcome = type(exc).__name__
                if outcome is not None:
                    selector.unregister(sock)
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if selector.get_map():
            outcomes["no answer in time"] = len(selector.get_map())
    return outcomes


async def test_a_burst_of_500_connections_is_queued_at_once_and_all_answered(
    make_genius: Callable[..., Genius],
) -> None:
    cap = listen_backlog_cap()
    if cap is not None and cap < BURST:
        pytest.skip(f"net.core.somaxconn is {cap}, below the burst of {BURST}")
    async with (
        make_genius() as genius,
        open_server(create_app(genius), port=0) as address,
    ):
        # the server is accepting once one request went through on this loop
        warm = _connect_all(address.port, 1)
        try:
            assert await anyio.to_thread.run_sync(_ask_all, warm, address.port) == {
                "HTTP/1.1 200": 1
            }
        finally:
            warm[0].close()

        socks = _connect_all(address.port, BURST)  # the loop is blocked meanwhile
        try:
            assert _established_now(socks) == BURST
            outcomes = await anyio.to_thread.run_sync(_ask_all, socks, address.port)
        finally:
            for sock in socks:
                sock.close()
    assert outcomes == {"HTTP/1.1 200": BURST}


@pytest.mark.parametrize("backlog", [0, -1, 65536, True, 1.5])
async def test_a_bad_backlog_is_a_config_error(backlog: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never served")

    with pytest.raises(ConfigError, match=r"backlog must be an integer in \[1, 65535\]"):
        async with open_server(app, port=0, backlog=backlog):
            pass


def test_backlog_comes_from_the_option_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rusty_genius._cli import build_parser

    monkeypatch.delenv("GENIUS_BACKLOG", raising=False)
    assert DEFAULT_BACKLOG == 1024
    assert _command._backlog(build_parser().parse_args(["serve"]).backlog) == DEFAULT_BACKLOG
    monkeypatch.setenv("GENIUS_BACKLOG", "2048")
    assert _command._backlog(None) == 2048
    assert _command._backlog(build_parser().parse_args(["serve", "--backlog", "64"]).backlog) == 64


@pytest.mark.parametrize(
    ("option", "env", "named"),
    [
        (0, None, "--backlog 0"),
        (70000, None, "--backlog 70000"),
        (None, "lots", "GENIUS_BACKLOG='lots'"),
        (None, "-5", "GENIUS_BACKLOG='-5'"),
    ],
)
def test_a_bad_backlog_setting_names_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch, option: int | None, env: str | None, named: str
) -> None:
    if env is None:
        monkeypatch.delenv("GENIUS_BACKLOG", raising=False)
    else:
        monkeypatch.setenv("GENIUS_BACKLOG", env)
    with pytest.raises(ConfigError) as raised:
        _command._backlog(option)
    assert str(raised.value) == (f"{named}: the listen backlog must be an integer from 1 to 65535")


async def test_serve_hands_the_backlog_to_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rusty_genius._cli import build_parser

    seen: dict[str, object] = {}

    class Seen(Exception):
        pass

    def server(app: object, **options: object) -> None:
        seen.update(options)
        raise Seen

    monkeypatch.setattr(_command, "open_server", server)
    monkeypatch.delenv("GENIUS_BACKLOG", raising=False)
    dirs = ["--home", str(tmp_path / "h"), "--cache", str(tmp_path / "c")]
    args = build_parser().parse_args(
        ["serve", *dirs, "--backend", "pinky", "--port", "0", "--backlog", "300"]
    )
    with pytest.raises(Seen):
        await _command.serve_command(args, info=lambda _: None, note=lambda _: None)
    assert seen["backlog"] == 300
