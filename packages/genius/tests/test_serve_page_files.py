"""The chat page's files over plain HTTP (no browser): who gets the page, and how it is served.

A browser (``Accept: text/html``) gets the page at ``/``, anything else the old plain
text; the files under ``/ui/`` are public even with an API key, carry the strict
Content-Security-Policy, revalidate with an ``ETag``, and only the files packaged with
the page are served. The ``Host``/``Origin`` guard still applies to them.
"""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from rusty_genius.server import create_app, open_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from rusty_genius import Genius

PAGE = Path(__file__).resolve().parents[1] / "src" / "rusty_genius" / "_serve" / "page"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@asynccontextmanager
async def served(
    make_genius: Callable[..., Genius], **app: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        make_genius() as genius,
        open_server(create_app(genius, **app), port=0) as at,
        httpx.AsyncClient(base_url=at.url, timeout=60) as http,
    ):
        yield http


async def test_a_browser_gets_the_page_and_other_clients_the_plain_text(
    make_genius: Callable[..., Genius],
) -> None:
    async with served(make_genius) as http:
        page = await http.get("/", headers=HTML)
        plain = await http.get("/")
        head = await http.head("/", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.content == (PAGE / "index.html").read_bytes()
    assert page.headers["vary"] == "Accept"
    assert plain.text == "rusty-genius is running"
    assert plain.headers["vary"] == "Accept"
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(page.content))


async def test_every_file_the_page_names_is_served_with_the_policy(
    make_genius: Callable[..., Genius],
) -> None:
    html = (PAGE / "index.html").read_text(encoding="utf-8")
    named = set(re.findall(r'(?:src|href)="(/ui/[^"]+)"', html))
    assert {"/ui/app.css", "/ui/js/main.js", "/ui/icon.svg"} <= named
    async with served(make_genius, api_key="sesame") as http:  # public even with a key
        for path in sorted(named):
            reply = await http.get(path)
            assert reply.status_code == 200, path
            policy = reply.headers["content-security-policy"]
            assert "default-src 'none'" in policy
            assert "script-src 'self'" in policy
            assert "connect-src 'self'" in policy
            assert "unsafe" not in policy
            assert reply.headers["x-content-type-options"] == "nosniff"
        script = await http.get("/ui/js/main.js")
        again = await http.get("/ui/js/main.js", headers={"If-None-Match": script.headers["etag"]})
        licence = await http.get("/ui/vendor/dompurify/LICENSE")
        api = await http.get("/api/ps")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert (again.status_code, again.content) == (304, b"")
    assert licence.status_code == 200
    assert "Apache License" in licence.text
    assert api.status_code == 401  # the API itself still needs the key


async def test_only_the_packaged_files_are_served(make_genius: Callable[..., Genius]) -> None:
    async with served(make_genius) as http:
        for path in (
            "/ui/",
            "/ui/index.html",
            "/ui/nothing.js",
            "/ui/..%2f_page.py",
            "/ui/%2e%2e/_app.py",
        ):
            reply = await http.get(path)
            assert reply.status_code == 404, path
            assert reply.json() == {"error": f"no such endpoint: GET {reply.request.url.path}"}


async def test_the_site_guard_still_refuses_a_foreign_host_or_origin(
    make_genius: Callable[..., Genius],
) -> None:
    async with served(make_genius) as http:
        rebinding = await http.get("/", headers={**HTML, "Host": "evil.example"})
        foreign = await http.post(
            "/v1/chat/completions", headers={"Origin": "http://evil.example"}, json={}
        )
        port = http.base_url.port
        own = await http.get("/ui/app.css", headers={"Origin": f"http://localhost:{port}"})
    assert rebinding.status_code == 403
    assert foreign.status_code == 403
    assert own.status_code == 200
