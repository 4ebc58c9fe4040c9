"""The ASGI app of ``genius serve``: OpenAI and Ollama endpoints over one running Genius.

Every inference request goes through the facade, so through the brainstem's
queue (``max_queue`` full → 503 with ``Retry-After``), its model lifecycles and
its cancellation (a client that disconnects cancels its request, queued or
running). Paths under ``/v1`` answer errors in OpenAI's shape
(``{"error": {"message", "type", "param", "code"}}``), the others in Ollama's
(``{"error": "..."}``).

With an API key, every path except ``/``, ``/health`` and ``/openapi.json``
needs ``Authorization: Bearer KEY``; the key is compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from rusty_genius_core import ConfigError, GeniusError

from . import _ollama, _openai
from ._exchange import Api, ServerStatistics, Stats, dumps, error_response
from ._fields import RequestError
from ._infer import Context
from ._openapi import openapi_document

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

    from .._genius import Genius

    Handler = Callable[[Context, Request, bytes], Awaitable[Response | dict[str, Any] | None]]
    Getter = Callable[[Context, Request], Awaitable[dict[str, Any]]]

__all__ = ["DEFAULT_MAX_BODY_BYTES", "GeniusApp", "create_app"]

log = logging.getLogger("rusty_genius.serve")

DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""Largest request body accepted (413 above it)."""

_PUBLIC: Final = frozenset({"/", "/health", "/openapi.json"})


def _api_of(path: str) -> Api:
    return Api.OPENAI if path == "/v1" or path.startswith("/v1/") else Api.OLLAMA


def _json(data: object, status: int = 200) -> Response:
    return Response(dumps(data), status, media_type="application/json")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = RequestError(f"the request body exceeds {limit} bytes", status=413)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


class GeniusApp:
    """The ASGI application; see :func:`create_app`."""

    def __init__(
        self,
        genius: Genius,
        *,
        api_key: str | None = None,
        retry_after: int = 1,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise ConfigError("api_key must be a non-empty string or None")
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ConfigError(f"retry_after must be an integer >= 0, got {retry_after!r}")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ConfigError(f"max_body_bytes must be an integer, got {max_body_bytes!r}")
        if max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be at least 1024, got {max_body_bytes!r}")
        self.genius: Final = genius
        self._key = api_key.encode() if api_key is not None else None
        self._stats = Stats()
        self._context = Context(
            genius=genius,
            stats=self._stats,
            retry_after=retry_after,
            max_body_bytes=max_body_bytes,
        )
        self.openapi: Final = openapi_document()
        self.starlette: Final = Starlette(
            routes=self._routes(),
            exception_handlers={HTTPException: self._http_error},  # type: ignore[dict-item]
        )

    def __repr__(self) -> str:
        return f"<GeniusApp {self.genius!r} key={'set' if self._key else 'none'}>"

    # -- public -----------------------------------------------------------------------------

    def statistics(self) -> ServerStatistics:
        """The counters of inference requests right now."""
        return self._stats.snapshot()

    async def wait_for(self, predicate: Callable[[ServerStatistics], bool]) -> ServerStatistics:
        """Wait until ``predicate(statistics())`` holds (checked at every change)."""
        return await self._stats.wait_for(predicate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "http" and self._key is not None
        if guarded and scope["path"] not in _PUBLIC and not self._authorized(scope):
            response = error_response(
                _api_of(scope["path"]),
                401,
                "a valid API key is required (Authorization: Bearer KEY)",
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.starlette(scope, receive, send)

    # -- internals --------------------------------------------------------------------------

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

    async def _http_error(self, request: Request, exc: HTTPException) -> Response:
        messages = {404: f"no such endpoint: {request.method} {request.url.path}"}
        message = messages.get(exc.status_code, exc.detail)
        response = error_response(_api_of(request.url.path), exc.status_code, message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    def _post(self, api: Api, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        context = self._context

        async def endpoint(request: Request) -> Response:
            try:
                body = await _read_body(request, context.max_body_bytes)
                result = await handler(context, request, body)
            except ClientDisconnect:  # gone while sending its body: nobody to answer
                return Response(status_code=400)
            except GeniusError as exc:
                return error_response(api, exc, retry_after=context.retry_after)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return error_response(api, 500, "internal server error")
            if result is None:
                return Response(status_code=200)
            if isinstance(result, Response):
                return result
            return _json(result)

        return endpoint

    def _get(self, api: Api, getter: Getter) -> Callable[[Request], Awaitable[Response]]:
        context = self._context

        async def endpoint(request: Request) -> Response:
            try:
                return _json(await getter(context, request))
            except GeniusError as exc:
                return error_response(api, exc, retry_after=context.retry_after)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return error_response(api, 500, "internal server error")

        return endpoint

    def _routes(self) -> list[Route]:
        openai, ollama = Api.OPENAI, Api.OLLAMA
        return [
            Route("/", self._root, methods=["GET", "HEAD"]),
            Route("/health", self._get(ollama, self._health), methods=["GET"]),
            Route("/openapi.json", self._openapi, methods=["GET"]),
            Route("/v1/models", self._get(openai, _openai.list_models), methods=["GET"]),
            Route("/v1/models/{model:path}", self._get(openai, self._model), methods=["GET"]),
            Route(
                "/v1/chat/completions",
                self._post(openai, _openai.chat_completions),
                methods=["POST"],
            ),
            Route("/v1/completions", self._post(openai, _openai.completions), methods=["POST"]),
            Route("/api/chat", self._post(ollama, _ollama.chat), methods=["POST"]),
            Route("/api/generate", self._post(ollama, _ollama.generate), methods=["POST"]),
            Route("/api/tags", self._get(ollama, _ollama.tags), methods=["GET"]),
            Route("/api/ps", self._get(ollama, _ollama.ps), methods=["GET"]),
            Route("/api/pull", self._post(ollama, _ollama.pull), methods=["POST"]),
            Route("/api/delete", self._post(ollama, _ollama.delete), methods=["DELETE"]),
            Route("/api/version", self._get(ollama, self._version), methods=["GET"]),
        ]

    async def _root(self, request: Request) -> Response:
        return PlainTextResponse("rusty-genius is running")

    async def _openapi(self, request: Request) -> Response:
        return _json(self.openapi)

    async def _health(self, context: Context, request: Request) -> dict[str, Any]:
        stats = self._stats.snapshot()
        return {
            "status": "ok" if self.genius.running else "stopped",
            "backend": self.genius.backend,
            "waiting": stats.waiting,
            "streaming": stats.streaming,
        }

    async def _version(self, context: Context, request: Request) -> dict[str, Any]:
        return {"version": _ollama.server_version()}

    async def _model(self, context: Context, request: Request) -> dict[str, Any]:
        name = request.path_params["model"]
        row = await _openai.retrieve_model(context, name)
        if row is None:
            raise RequestError(f"model {name!r} is not served here", "model", status=404)
        return row


def create_app(
    genius: Genius,
    *,
    api_key: str | None = None,
    retry_after: int = 1,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> GeniusApp:
    """The ASGI app serving ``genius`` (which must be running while requests arrive).

    ``api_key``: require ``Authorization: Bearer KEY`` (``None``: open, for loopback);
    ``retry_after``: seconds in the ``Retry-After`` of a 503; ``max_body_bytes``:
    the largest request body (413 above it).
    """
    return GeniusApp(
        genius, api_key=api_key, retry_after=retry_after, max_body_bytes=max_body_bytes
    )
