"""Cross-site and DNS-rebinding protection of ``genius serve``, and slow request bodies.

:func:`decide` is tested as a pure function; the rest over real HTTP on loopback:
a web page's requests (a foreign ``Origin``, a rebinding ``Host``) are refused with
403 before anything runs, allowed origins and preflights get their CORS headers,
clients without an ``Origin`` (curl, SDKs) are served, and a body trickled slower
than ``body_timeout`` is answered 408 and its connection closed.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from rusty_genius._serve._site import SitePolicy, Verdict, decide
from rusty_genius.server import create_app, open_server
from rusty_genius_core import ConfigError
from rusty_genius_testhub import SMOLLM2_FAKE_QUANTS, TEST_MODELS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from rusty_genius import Genius

MODEL = "pinky-test"
LOCAL = ("127.0.0.1", 8080)
ANY = ("0.0.0.0", 8080)
NONE = SitePolicy()
EVIL = "http://evil.example"
REFERENCE = f"{TEST_MODELS['smollm2'].repo}:{SMOLLM2_FAKE_QUANTS[0]}"  # a small fake file


# -- the decision, without a server ---------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "server"),
    [
        ("127.0.0.1:8080", LOCAL),
        ("localhost:8080", LOCAL),
        ("LOCALHOST", LOCAL),
        ("app.localhost:8080", LOCAL),
        ("[::1]:8080", LOCAL),
        ("127.0.0.2", LOCAL),
        ("192.168.1.7:8080", ("192.168.1.7", 8080)),
        ("10.1.2.3:8080", ANY),  # bound to all: any IP literal (rebinding needs a name)
        (None, LOCAL),  # HTTP/1.0 without Host: no browser sends that
    ],
)
def test_hosts_naming_this_server_pass(host: str | None, server: tuple[str, int]) -> None:
    assert decide("GET", host, None, server=server, policy=NONE) == Verdict()


@pytest.mark.parametrize(
    ("host", "server"),
    [
        ("evil.example:8080", LOCAL),
        ("evil.example", ANY),
        ("10.1.2.3:8080", LOCAL),
        ("localhost.evil.example", LOCAL),
        ("bad host", LOCAL),
    ],
)
def test_hosts_naming_something_else_are_refused(host: str, server: tuple[str, int]) -> None:
    verdict = decide("DELETE", host, None, server=server, policy=NONE)
    assert verdict.refused is not None
    assert "Host" in verdict.refused
    assert repr(host) in verdict.refused
    assert "--allow-host" in verdict.refused


def test_allowed_hosts_are_configurable() -> None:
    named = SitePolicy.parse(hosts="genius.lan, Other.Example")
    assert decide("GET", "genius.lan:8080", None, server=LOCAL, policy=named).refused is None
    assert decide("GET", "other.example", None, server=LOCAL, policy=named).refused is None
    assert decide("GET", "third.example", None, server=LOCAL, policy=named).refused is not None
    anyone = SitePolicy.parse(hosts="*")
    assert decide("GET", "third.example", None, server=LOCAL, policy=anyone).refused is None


def test_origins_own_configured_and_foreign() -> None:
    own = decide("POST", "127.0.0.1:8080", "http://127.0.0.1:8080", server=LOCAL, policy=NONE)
    assert own == Verdict(allow_origin="http://127.0.0.1:8080")
    # The server's page under its other loopback name is still its own.
    other_name = decide(
        "POST", "127.0.0.1:8080", "http://localhost:8080", server=LOCAL, policy=NONE
    )
    assert other_name.refused is None
    for foreign in (EVIL, "http://localhost:3000", "https://127.0.0.1:8080", "null", "nonsense"):
        verdict = decide("POST", "127.0.0.1:8080", foreign, server=LOCAL, policy=NONE)
        assert verdict.refused is not None, foreign
        assert "Origin" in verdict.refused
        assert repr(foreign) in verdict.refused
    dev = SitePolicy.parse(origins=["http://localhost:*", "https://app.example/"])
    for allowed in ("http://localhost:3000", "https://app.example"):
        verdict = decide("POST", "127.0.0.1:8080", allowed, server=LOCAL, policy=dev)
        assert verdict == Verdict(allow_origin=allowed)
    assert decide("POST", "127.0.0.1:8080", EVIL, server=LOCAL, policy=dev).refused is not None
    anyone = SitePolicy.parse(origins="*")
    assert decide("POST", "127.0.0.1:8080", EVIL, server=LOCAL, policy=anyone).refused is None


def test_a_foreign_host_is_refused_even_with_an_allowed_origin() -> None:
    anyone = SitePolicy.parse(origins="*")
    verdict = decide("GET", "evil.example", EVIL, server=LOCAL, policy=anyone)
    assert verdict.refused is not None
    assert "Host" in verdict.refused


def test_preflights() -> None:
    dev = SitePolicy.parse(origins="http://localhost:*")
    asked = decide(
        "OPTIONS",
        "127.0.0.1:8080",
        "http://localhost:5173",
        server=LOCAL,
        policy=dev,
        preflight=True,
    )
    assert asked == Verdict(allow_origin="http://localhost:5173", preflight=True)
    refused = decide("OPTIONS", "127.0.0.1:8080", EVIL, server=LOCAL, policy=dev, preflight=True)
    assert refused.refused is not None


@pytest.mark.parametrize(
    ("hosts", "origins"), [("a b", None), (None, "evil.example"), (None, "http://a b")]
)
def test_bad_settings_are_config_errors(hosts: str | None, origins: str | None) -> None:
    with pytest.raises(ConfigError):
        SitePolicy.parse(hosts, origins)


# -- over real HTTP on loopback -------------------------------------------------------------


@asynccontextmanager
async def served(
    make_genius: Callable[..., Genius], **app: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with (
        make_genius() as genius,
        open_server(create_app(genius, **app), port=0) as at,
        httpx.AsyncClient(base_url=at.url, timeout=60) as http,
    ):
        yield http, at.url


def refused_403(reply: httpx.Response, header: str, value: str) -> None:
    assert reply.status_code == 403, reply.text
    error = reply.json()["error"]
    message = error["message"] if isinstance(error, dict) else error
    assert header in message
    assert value in message


@pytest.mark.usefixtures("smollm2_repo")
async def test_a_foreign_origin_pulls_and_runs_nothing(
    make_genius: Callable[..., Genius], hub: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    text = {"Content-Type": "text/plain", "Origin": EVIL}  # a form post: no preflight
    async with (
        make_genius(endpoint=hub.url, cache=cache) as genius,
        open_server(create_app(genius), port=0) as at,
        httpx.AsyncClient(base_url=at.url, timeout=60) as http,
    ):
        pull = await http.post("/api/pull", content=json.dumps({"model": REFERENCE}), headers=text)
        generate = await http.post(
            "/api/generate", content=json.dumps({"model": MODEL, "prompt": "hi"}), headers=text
        )
        chat = await http.post(
            "/v1/chat/completions",
            content=json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "x"}]}),
            headers=text,
        )
        running = await http.get("/api/ps")
        downloaded_before = [p for p in cache.rglob("*") if p.is_file()]
        # The same pull without the page's Origin (curl) does download: the set-up is live.
        curl = await http.post(
            "/api/pull", content=json.dumps({"model": REFERENCE, "stream": False})
        )
    assert curl.status_code == 200, curl.text
    assert [p for p in cache.rglob("*") if p.is_file()] != []
    assert downloaded_before == []
    refused_403(pull, "Origin", EVIL)
    refused_403(generate, "Origin", EVIL)
    refused_403(chat, "Origin", EVIL)
    assert chat.json()["error"]["code"] == "forbidden"
    assert running.json() == {"models": []}  # nothing loaded


async def test_a_rebinding_host_reads_and_deletes_nothing(
    make_genius: Callable[..., Genius],
) -> None:
    rebound = {"Host": "evil.example:11434"}
    async with served(make_genius) as (http, _):
        tags = await http.get("/api/tags", headers=rebound)
        models = await http.get("/v1/models", headers=rebound)
        deleted = await http.request(
            "DELETE", "/api/delete", content=json.dumps({"model": MODEL}), headers=rebound
        )
        health = await http.get("/health", headers=rebound)
    for reply in (tags, models, deleted, health):
        refused_403(reply, "Host", "evil.example:11434")


async def test_no_origin_the_own_origin_and_allowed_origins_are_served(
    make_genius: Callable[..., Genius],
) -> None:
    body = json.dumps({"model": MODEL, "prompt": "hi", "stream": False})
    async with served(make_genius, allow_origins="http://localhost:*") as (http, url):
        plain = await http.post("/api/generate", content=body)  # curl -d: no Origin, a form type
        own = await http.post("/api/generate", content=body, headers={"Origin": url})
        dev = await http.post(
            "/api/generate", content=body, headers={"Origin": "http://localhost:5173"}
        )
        foreign = await http.post("/api/generate", content=body, headers={"Origin": EVIL})
    assert plain.status_code == 200
    assert plain.json()["response"] == "hi"
    assert "access-control-allow-origin" not in plain.headers
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == url
    assert dev.status_code == 200
    assert dev.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert dev.headers["vary"] == "Origin"
    refused_403(foreign, "Origin", EVIL)


async def test_preflights_are_answered(make_genius: Callable[..., Genius]) -> None:
    asking = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }
    async with served(make_genius, allow_origins="http://localhost:5173") as (http, _):
        allowed = await http.options(
            "/v1/chat/completions", headers={**asking, "Origin": "http://localhost:5173"}
        )
        foreign = await http.options("/v1/chat/completions", headers={**asking, "Origin": EVIL})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert allowed.headers["access-control-allow-headers"] == "content-type,authorization"
    refused_403(foreign, "Origin", EVIL)


async def test_allowed_hosts_over_http(make_genius: Callable[..., Genius]) -> None:
    async with served(make_genius, allow_hosts="genius.lan") as (http, _):
        named = await http.get("/api/tags", headers={"Host": "genius.lan:8080"})
        other = await http.get("/api/tags", headers={"Host": "other.lan"})
    assert named.status_code == 200
    refused_403(other, "Host", "other.lan")


# -- slow request bodies --------------------------------------------------------------------


async def test_a_trickled_body_gets_408_and_its_connection_closed(
    make_genius: Callable[..., Genius],
) -> None:
    async with served(make_genius, body_timeout=0.2) as (http, url):
        parts = httpx.URL(url)
        assert parts.port is not None
        async with await anyio.connect_tcp(parts.host, parts.port) as stream:
            head = (
                f"POST /api/generate HTTP/1.1\r\nhost: {parts.host}\r\ncontent-length: 1000\r\n\r\n"
            )
            await stream.send(head.encode() + b'{"model": "')  # and never the rest
            received = b""
            with anyio.fail_after(30):
                while True:
                    try:
                        received += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        break  # the server closed the connection
        # The server still serves others.
        after = await http.post(
            "/api/generate", content=json.dumps({"model": MODEL, "prompt": "hi", "stream": False})
        )
    status, _, rest = received.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408"), received
    assert b"body_timeout" in rest
    assert after.status_code == 200


async def test_a_body_within_the_timeout_is_served(make_genius: Callable[..., Genius]) -> None:
    async with served(make_genius, body_timeout=30) as (http, _):
        reply = await http.post(
            "/api/generate", content=json.dumps({"model": MODEL, "prompt": "hi", "stream": False})
        )
    assert reply.status_code == 200


@pytest.mark.parametrize("bad", [0, -1, float("nan"), True, "5"])
async def test_a_bad_body_timeout_is_a_config_error(
    make_genius: Callable[..., Genius], bad: object
) -> None:
    async with make_genius() as genius:
        with pytest.raises(ConfigError, match="body_timeout"):
            create_app(genius, body_timeout=bad)  # type: ignore[arg-type]


# -- the command line -----------------------------------------------------------------------


def test_serve_options_and_their_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rusty_genius._cli import build_parser
    from rusty_genius._serve._command import _app_options

    monkeypatch.setenv("GENIUS_HOSTS", "env.lan")
    monkeypatch.setenv("GENIUS_ORIGINS", "http://env.example")
    given = build_parser().parse_args(
        [
            "serve",
            "--allow-host",
            "a.lan,b.lan",
            "--allow-host",
            "c.lan",
            "--allow-origin",
            "http://localhost:*",
            "--body-timeout",
            "2.5",
        ]
    )
    options = _app_options(given)
    assert options["body_timeout"] == 2.5
    policy = SitePolicy.parse(options["allow_hosts"], options["allow_origins"])
    assert policy == SitePolicy(hosts=("a.lan", "b.lan", "c.lan"), origins=("http://localhost:*",))
    defaults = _app_options(build_parser().parse_args(["serve"]))
    assert defaults["body_timeout"] == 30
    policy = SitePolicy.parse(defaults["allow_hosts"], defaults["allow_origins"])
    assert policy == SitePolicy(hosts=("env.lan",), origins=("http://env.example",))
