"""The exact bytes the hub writes: whole responses, and responses a fault breaks.

Raw sockets, no HTTP client: each test sends request bytes and compares every byte that
comes back (until end-of-stream or a reset) with the bytes spelled out here.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import pytest

from rusty_genius_testhub import open_hub
from rusty_genius_testhub._wire import HttpConnection

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from rusty_genius_testhub import HubRepo, LoopbackHub

REPO = "acme/tiny-GGUF"
BLOB = bytes(range(256)) * 400  # 102400 bytes
NAME = "tiny-Q4_K_M.gguf"
SHA = hashlib.sha256(BLOB).hexdigest()
FLIP = bytes(b ^ 0x5A for b in range(256))


@pytest.fixture
async def small_chunks() -> AsyncIterator[LoopbackHub]:
    """A hub that reads files in 4 KiB chunks, so faults land inside and across chunks."""
    async with open_hub(chunk_size=4096) as hub:
        yield hub


@pytest.fixture
def tiny(small_chunks: LoopbackHub) -> HubRepo:
    return small_chunks.add_repo(REPO, {NAME: BLOB, "README.md": b"hello\n"})


def cdn(repo: HubRepo) -> str:
    return f"/cdn/{REPO}/{repo.commit}/{NAME}"


def get(path: str, *headers: str, method: str = "GET", version: str = "HTTP/1.1") -> bytes:
    return "".join(f"{line}\r\n" for line in (f"{method} {path} {version}", *headers, "")).encode()


def file_head(
    repo: HubRepo, *, status: str = "200 OK", length: int = len(BLOB), **more: str
) -> bytes:
    lines = [
        f"HTTP/1.1 {status}",
        f"X-Repo-Commit: {repo.commit}",
        f'X-Linked-Etag: "{SHA}"',
        f"X-Linked-Size: {len(BLOB)}",
        f'ETag: "{SHA}"',
        "Accept-Ranges: bytes",
        "Content-Type: application/octet-stream",
        f"Content-Length: {length}",
        *(f"{k.replace('_', '-')}: {v}" for k, v in more.items()),
    ]
    return "".join(f"{line}\r\n" for line in lines).encode() + b"\r\n"


def json_response(
    status: str, body: str, *headers: str, connection: str = "close", charset: bool = True
) -> bytes:
    content_type = "application/json; charset=utf-8" if charset else "application/json"
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", *headers]
    lines += [f"Content-Length: {len(body)}", f"Connection: {connection}"]
    return "".join(f"{line}\r\n" for line in lines).encode() + b"\r\n" + body.encode()


async def exchange(hub: LoopbackHub, request: bytes) -> tuple[bytes, bool]:
    """Everything the hub sends back, and whether the connection ended in a reset."""
    out = bytearray()
    async with await anyio.connect_tcp("127.0.0.1", hub.port) as stream:
        await stream.send(request)
        with anyio.fail_after(10):
            while True:
                try:
                    out += await stream.receive()
                except anyio.EndOfStream:
                    return bytes(out), False
                except (anyio.BrokenResourceError, ConnectionError):
                    return bytes(out), True


async def test_a_whole_file_response(small_chunks: LoopbackHub, tiny: HubRepo) -> None:
    data, reset = await exchange(small_chunks, get(cdn(tiny), "Host: x", "Connection: close"))
    assert data == file_head(tiny, Connection="close") + BLOB
    assert not reset


async def test_cut_sends_the_head_and_exactly_n_body_bytes(
    small_chunks: LoopbackHub, tiny: HubRepo
) -> None:
    small_chunks.cut_after(NAME, 5000)  # past the first 4 KiB chunk, inside the second
    data, reset = await exchange(small_chunks, get(cdn(tiny), "Host: x"))
    assert data == file_head(tiny, Connection="keep-alive") + BLOB[:5000]
    assert not reset  # a clean close, though the head promised keep-alive and 102400 bytes


async def test_cut_of_a_range_counts_from_the_range(
    small_chunks: LoopbackHub, tiny: HubRepo
) -> None:
    small_chunks.cut_after(NAME, 0)
    small_chunks.cut_after(NAME, 7)
    zero, _ = await exchange(small_chunks, get(cdn(tiny), "Host: x"))
    seven, _ = await exchange(small_chunks, get(cdn(tiny), "Host: x", "Range: bytes=100-"))
    assert zero == file_head(tiny, Connection="keep-alive")
    head = file_head(
        tiny,
        status="206 Partial Content",
        length=len(BLOB) - 100,
        Content_Range=f"bytes 100-{len(BLOB) - 1}/{len(BLOB)}",
        Connection="keep-alive",
    )
    assert seven == head + BLOB[100:107]


async def test_abrupt_cut_resets_after_exactly_n_bytes(
    small_chunks: LoopbackHub, tiny: HubRepo
) -> None:
    small_chunks.cut_after(NAME, 100, abrupt=True)
    data, reset = await exchange(small_chunks, get(cdn(tiny), "Host: x"))
    assert data == file_head(tiny, Connection="keep-alive") + BLOB[:100]
    assert reset


async def test_corrupt_flips_every_body_byte(small_chunks: LoopbackHub, tiny: HubRepo) -> None:
    small_chunks.corrupt(NAME, times=1)
    small_chunks.cut_after(NAME, 4097)  # a corrupt body cut one byte into its second chunk
    data, _ = await exchange(small_chunks, get(cdn(tiny), "Host: x", "Connection: close"))
    assert data == file_head(tiny, Connection="close") + BLOB[:4097].translate(FLIP)


async def test_stall_holds_after_exactly_n_bytes(small_chunks: LoopbackHub, tiny: HubRepo) -> None:
    stall = small_chunks.stall(NAME, 5000)
    head = file_head(tiny, Connection="close")
    out = bytearray()
    async with await anyio.connect_tcp("127.0.0.1", small_chunks.port) as stream:
        await stream.send(get(cdn(tiny), "Host: x", "Connection: close"))
        with anyio.fail_after(10):
            await stall.wait_reached()
            while len(out) < len(head) + 5000:
                out += await stream.receive()
            assert out == head + BLOB[:5000]
            assert small_chunks.bytes_served(NAME) == 5000
            stall.release()
            while True:
                try:
                    out += await stream.receive()
                except anyio.EndOfStream:
                    break
    assert out == head + BLOB


async def test_status_faults(small_chunks: LoopbackHub, tiny: HubRepo) -> None:
    resolve = f"/{REPO}/resolve/main/{NAME}"
    small_chunks.status(NAME, 500)
    small_chunks.status(NAME, 416)
    small_chunks.status(f"{REPO}/{NAME}", 404)
    small_chunks.status(REPO, 429)
    request = get(resolve, "Host: x", "Connection: close")
    answers = [(await exchange(small_chunks, request))[0] for _ in range(3)]
    tree, _ = await exchange(
        small_chunks, get(f"/api/models/{REPO}/tree/main", "Host: x", "Connection: close")
    )
    assert answers == [
        json_response("500 Internal Server Error", '{"error": "Internal Server Error"}'),
        json_response(
            "416 Range Not Satisfiable",
            '{"error": "Range Not Satisfiable"}',
            f"Content-Range: bytes */{len(BLOB)}",
        ),
        json_response(
            "404 Not Found",
            '{"error": "Not Found"}',
            "X-Error-Code: EntryNotFound",
            "X-Error-Message: Not Found",
        ),
    ]
    assert tree == json_response("429 Too Many Requests", '{"error": "Too Many Requests"}')


async def test_ignore_range_answers_200_with_everything(
    small_chunks: LoopbackHub, tiny: HubRepo
) -> None:
    small_chunks.ignore_range(NAME, times=1)
    data, _ = await exchange(
        small_chunks, get(cdn(tiny), "Host: x", "Range: bytes=100-", "Connection: close")
    )
    assert data == file_head(tiny, Connection="close") + BLOB


async def test_malformed_requests_are_refused_and_closed(small_chunks: LoopbackHub) -> None:
    bad = json_response("400 Bad Request", '{"error": "bad request"}', charset=False)
    too_large = json_response(
        "431 Request Header Fields Too Large", '{"error": "headers too large"}', charset=False
    )
    huge_head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000  # never ends
    assert (await exchange(small_chunks, b"garbage\r\n\r\n"))[0] == bad
    assert (await exchange(small_chunks, b"GET / HTTP/1.1\r\nno colon\r\n\r\n"))[0] == bad
    assert (await exchange(small_chunks, huge_head))[0] == too_large
    assert small_chunks.requests == []


async def test_one_connection_serves_requests_in_turn(
    small_chunks: LoopbackHub, tiny: HubRepo
) -> None:
    readme = f"/{REPO}/resolve/main/README.md"
    request = (
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        + get(readme, "Host: x")
        + get(readme, "Host: x", "Connection: close")
    )
    data, _ = await exchange(small_chunks, request)
    not_allowed = json_response(
        "405 Method Not Allowed", '{"error": "Method Not Allowed"}', connection="keep-alive"
    )
    oid = tiny.files["README.md"].oid

    def hello(connection: str) -> bytes:
        return (
            "HTTP/1.1 200 OK\r\n"
            f"X-Repo-Commit: {tiny.commit}\r\n"
            f'X-Linked-Etag: "{oid}"\r\nX-Linked-Size: 6\r\nETag: "{oid}"\r\n'
            "Accept-Ranges: bytes\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: 6\r\nConnection: {connection}\r\n\r\nhello\n"
        ).encode()

    assert data == not_allowed + hello("keep-alive") + hello("close")
    assert [(r.method, r.status, r.completed) for r in small_chunks.requests] == [
        ("POST", 405, True),
        ("GET", 200, True),
        ("GET", 200, True),
    ]


# -- where h11's framing differs from the hand-written parser it replaced -------------------


async def test_http_1_1_without_host_is_refused(small_chunks: LoopbackHub, tiny: HubRepo) -> None:
    data, _ = await exchange(small_chunks, get(f"/{REPO}/resolve/main/README.md"))
    assert data == json_response("400 Bad Request", '{"error": "bad request"}', charset=False)


async def test_http_1_0_clients_get_one_response_per_connection(
    small_chunks: LoopbackHub, tiny: HubRepo
) -> None:
    readme = f"/{REPO}/resolve/main/README.md"
    data, _ = await exchange(
        small_chunks, get(readme, "Connection: keep-alive", version="HTTP/1.0") * 2
    )
    assert data.count(b"HTTP/1.1 200 OK") == 1
    assert data.endswith(b"Connection: close\r\n\r\nhello\n")


async def test_chunked_request_bodies_are_read_past(
    small_chunks: LoopbackHub, tiny: HubRepo
) -> None:
    request = (
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
        + get(f"/{REPO}/resolve/main/README.md", "Host: x", "Connection: close")
    )
    data, _ = await exchange(small_chunks, request)
    assert data.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert data.endswith(b"Connection: close\r\n\r\nhello\n")


async def test_a_client_leaving_mid_request_gets_nothing() -> None:
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listeners:
        (listener,) = listeners.listeners
        assert isinstance(listener, anyio.abc.SocketListener)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with await anyio.connect_tcp("127.0.0.1", port) as client:
            server = await listener.accept()
            await client.send(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            await client.send_eof()  # leaves seven body bytes short
            with anyio.fail_after(10):
                async with server:
                    assert await HttpConnection(server).next_request() is None
                with pytest.raises(anyio.EndOfStream):
                    await client.receive()  # no 400: nobody is there to read it
