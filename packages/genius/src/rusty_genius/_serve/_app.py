"""The ASGI app of ``genius serve``: OpenAI and Ollama endpoints over one running Genius.

Every inference request goes through the facade, so through the brainstem's
queue (``max_queue`` full → 503 with ``Retry-After``), its model lifecycles and
its cancellation (a client that disconnects cancels its request, queued or
running). Paths under ``/v1`` answer errors in OpenAI's shape
(``{"error": {"message", "type", "param", "code"}}``), the others in Ollama's
(``{"error": "..."}``); a request that fails validation is a 400 naming the
field, never FastAPI's 422.

Bodies are read as JSON whatever their ``Content-Type`` (``curl -d`` sends a form
type, and Ollama reads it as JSON too), up to ``max_body_bytes`` (413 above it),
within ``body_timeout`` seconds (408 after it, and the connection is closed).

Before anything else, :class:`._guard.SiteGuard` refuses a foreign ``Host``
(DNS rebinding) or ``Origin`` (a web page driving the server) with 403 and
answers CORS preflights; see :mod:`._site`.

With an API key, every path except ``/``, the chat page's files under ``/ui/``,
``/health``, ``/openapi.json`` and ``/docs`` needs ``Authorization: Bearer KEY``; the
key is compared in constant time.
"""

from __future__ import annotations

import hmac
import math
from typing import TYPE_CHECKING, Any, Final, TypedDict, Unpack

import anyio
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from rusty_genius_core import ConfigError

from ._errors import validation_message
from ._guard import SiteGuard
from ._infer import Context
from ._page import ASSET_PREFIX
from ._replies import error_response
from ._routes import api_of, build_api
from ._settings import DEFAULT_BODY_TIMEOUT
from ._site import SitePolicy
from ._statistics import ServerStatistics, Stats

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Message, Receive, Scope, Send

    from .._genius import Genius

__all__ = ["DEFAULT_BODY_TIMEOUT", "DEFAULT_MAX_BODY_BYTES", "GeniusApp", "create_app"]

DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""Largest request body accepted (413 above it)."""
_MAX_BLOB_BYTES: Final = 1 << 40
"""Largest blob ``POST /api/blobs`` accepts; its body streams to a file, not to memory."""

_PUBLIC: Final = frozenset({"/", "/health", "/openapi.json", "/docs"})
_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_JSON: Final = (b"content-type", b"application/json")


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    message, param = validation_message(exc.errors())
    return error_response(api_of(request.url.path), 400, message, param=param)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: f"no such endpoint: {request.method} {request.url.path}"}
    message = messages.get(exc.status_code, exc.detail)
    response = error_response(api_of(request.url.path), exc.status_code, message)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def _limited(receive: Receive, limit: int, timeout: float) -> Receive:
    """``receive``, refusing a body over ``limit`` bytes (413) or slower than ``timeout`` (408).

    The deadline runs from the first read of the body to its last part, so a client
    trickling its body a byte at a time is answered 408 and its connection closed,
    rather than held. Once the body is in, reads (``http.disconnect``) wait freely.
    """
    seen = 0
    deadline: float | None = None
    done = False

    async def read() -> Message:
        nonlocal seen, deadline, done
        if done:
            return await receive()
        if deadline is None:
            deadline = anyio.current_time() + timeout
        with anyio.move_on_after(deadline - anyio.current_time()):
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"the request body exceeds {limit} bytes")
                done = not message.get("more_body", False)
            else:
                done = True
            return message
        raise HTTPException(
            408,
            f"the request body did not arrive within {timeout:g} seconds (body_timeout)",
            headers={"Connection": "close"},
        )

    return read


class GeniusApp:
    """The ASGI application; see :func:`create_app`."""

    def __init__(
        self,
        genius: Genius,
        *,
        api_key: str | None = None,
        retry_after: int = 1,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        allow_hosts: str | Iterable[str] | None = None,
        allow_origins: str | Iterable[str] | None = None,
    ) -> None:
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise ConfigError("api_key must be a non-empty string or None")
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ConfigError(f"retry_after must be an integer >= 0, got {retry_after!r}")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ConfigError(f"max_body_bytes must be an integer, got {max_body_bytes!r}")
        if max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be at least 1024, got {max_body_bytes!r}")
        if (
            isinstance(body_timeout, bool)
            or not isinstance(body_timeout, int | float)
            or not math.isfinite(body_timeout)
            or body_timeout <= 0
        ):
            raise ConfigError(f"body_timeout must be a positive number, got {body_timeout!r}")
        self.site: Final = SitePolicy.parse(allow_hosts, allow_origins)
        self._guarded = SiteGuard(self._serve, self.site)
        self._body_timeout = float(body_timeout)
        self.genius: Final = genius
        self._key = api_key.encode() if api_key is not None else None
        self._stats = Stats()
        self._max_body_bytes = max_body_bytes
        self.api: Final = build_api({RequestValidationError: _invalid, HTTPException: _http_error})
        self.api.state.context = Context(
            genius=genius,
            stats=self._stats,
            retry_after=retry_after,
            max_body_bytes=max_body_bytes,
        )

    def __repr__(self) -> str:
        return f"<GeniusApp {self.genius!r} key={'set' if self._key else 'none'}>"

    # -- public -----------------------------------------------------------------------------

    @property
    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document served at ``/openapi.json`` (``/docs`` renders it)."""
        return self.api.openapi()

    def statistics(self) -> ServerStatistics:
        """The counters of inference requests right now."""
        return self._stats.snapshot()

    async def wait_for(self, predicate: Callable[[ServerStatistics], bool]) -> ServerStatistics:
        """Wait until ``predicate(statistics())`` holds (checked at every change)."""
        return await self._stats.wait_for(predicate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._guarded(scope, receive, send)

    # -- internals --------------------------------------------------------------------------

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)
            return
        path = scope["path"]
        public = path in _PUBLIC or path.startswith(ASSET_PREFIX)
        if self._key is not None and not public and not self._authorized(scope):
            response = error_response(
                api_of(path), 401, "a valid API key is required (Authorization: Bearer KEY)"
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        if scope["method"] in _WITH_BODY:
            # A blob (an adapter file) is streamed to disk: only _MAX_BLOB_BYTES bounds it.
            limit = _MAX_BLOB_BYTES if path.startswith("/api/blobs/") else self._max_body_bytes
            declared = self._declared_length(scope)
            if declared is not None and declared > limit:
                message = f"the request body exceeds {limit} bytes"
                await error_response(api_of(path), 413, message)(scope, receive, send)
                return
            # JSON whatever the Content-Type says: FastAPI parses only a JSON type.
            headers = [h for h in scope["headers"] if h[0] != b"content-type"]
            scope = {**scope, "headers": [*headers, _JSON]}
            receive = _limited(receive, limit, self._body_timeout)
        await self.api(scope, receive, send)

    @staticmethod
    def _declared_length(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else None
        return None

    def _authorized(self, scope: Scope) -> bool:
        assert self._key is not None
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = token.strip()
                break
        # Constant time in the token's content (a different length fails at once).
        return hmac.compare_digest(given, self._key)


class AppOptions(TypedDict, total=False):
    """:class:`GeniusApp`'s keyword options, which :func:`create_app` passes on."""

    api_key: str | None
    retry_after: int
    max_body_bytes: int
    body_timeout: float
    allow_hosts: str | Iterable[str] | None
    allow_origins: str | Iterable[str] | None


def create_app(genius: Genius, **options: Unpack[AppOptions]) -> GeniusApp:
    """The ASGI app serving ``genius`` (which must be running while requests arrive).

    The options, with :class:`GeniusApp`'s defaults: ``api_key``: require
    ``Authorization: Bearer KEY`` (``None``: open, for loopback); ``retry_after``:
    seconds in the ``Retry-After`` of a 503; ``max_body_bytes``: the largest request body
    (413 above it); ``body_timeout``: seconds a request body may take to arrive (408
    after it); ``allow_hosts``/``allow_origins``: ``Host`` names and ``Origin`` patterns
    allowed beyond this server's own (a comma list or an iterable; ``"*"`` allows any;
    see :mod:`._site`).
    """
    return GeniusApp(genius, **options)
