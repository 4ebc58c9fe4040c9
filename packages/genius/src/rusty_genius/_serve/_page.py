"""The chat page at ``/`` and its assets under ``/ui/``, package data of ``rusty-genius``.

A browser (``Accept: text/html``) gets the single-page chat; any other client gets the
plain text ``rusty-genius is running``, as before, so ``curl`` and health checks read
what they always did. The page talks only to this server's own OpenAI and Ollama
endpoints (same origin, so :mod:`._site`'s guard lets it through); its libraries
(``marked``, ``DOMPurify``) are vendored with their licences under ``page/vendor``.

Every file is read from the package once, at import; the set of servable paths is
fixed then, so ``/ui/`` never reads a path it was not built with. Each answer carries a
strict Content-Security-Policy (scripts, styles, images and fetches from this origin
only; no inline script or style, no frames, no forms posting elsewhere), and the page
and its assets are public: they load without the API key, which the page asks for the
first time an API call answers 401.
"""

import hashlib
from importlib import resources
from typing import TYPE_CHECKING, Final

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["ASSET_PREFIX", "CONTENT_SECURITY_POLICY", "page_router"]

ASSET_PREFIX: Final = "/ui/"
CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE files
}
_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def _walk(folder: "Traversable", prefix: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in folder.iterdir():
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.update(_walk(entry, f"{path}/"))
        elif _suffix(entry.name) in _TYPES:
            found[path] = entry.read_bytes()
    return found


_FILES: Final = _walk(resources.files(__package__ or "rusty_genius._serve") / "page", "")


def _asset(path: str, request: Request) -> Response:
    body = _FILES[path]
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**_HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    content = b"" if request.method == "HEAD" else body
    response = Response(content, 200, headers, media_type=_TYPES[_suffix(path)])
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(body))
    return response


page_router = APIRouter()


@page_router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def root(request: Request) -> Response:
    """The chat page for a browser; ``rusty-genius is running`` for anything else."""
    if "text/html" not in request.headers.get("accept", ""):
        return PlainTextResponse("rusty-genius is running", headers={"Vary": "Accept"})
    response = _asset("index.html", request)
    response.headers["Vary"] = "Accept"
    return response


@page_router.api_route("/ui/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
async def asset(path: str, request: Request) -> Response:
    """A file of the page (scripts, styles, the vendored libraries and their licences)."""
    if path not in _FILES or path == "index.html":
        raise HTTPException(404)
    return _asset(path, request)
