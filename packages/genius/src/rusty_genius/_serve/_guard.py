"""The ASGI middleware applying :func:`._site.decide` to every HTTP request.

A refused request gets a 403 in its API's error shape before anything else runs
(no body is read, no model is pulled or run); an allowed preflight gets a 204 with
the CORS headers; an allowed cross-origin request is served with
``Access-Control-Allow-Origin`` (and ``Vary: Origin``) added to its answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from ._replies import error_response
from ._routes import api_of
from ._site import ALLOW_HEADERS, ALLOW_METHODS, SitePolicy, decide

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SiteGuard"]

_MAX_AGE = "600"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class SiteGuard:
    """Refuses foreign ``Host`` and ``Origin`` headers; answers CORS preflights."""

    def __init__(self, app: ASGIApp, policy: SitePolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        verdict = decide(
            scope["method"],
            _header(scope, b"host"),
            _header(scope, b"origin"),
            server=(str(server[0]), int(server[1])) if server else None,
            policy=self.policy,
            preflight=_header(scope, b"access-control-request-method") is not None,
        )
        if verdict.refused is not None:
            response = error_response(api_of(scope["path"]), 403, verdict.refused)
            await response(scope, receive, send)
            return
        origin = verdict.allow_origin
        if origin is None:
            await self.app(scope, receive, send)
            return
        cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if verdict.preflight:
            asked = _header(scope, b"access-control-request-headers")
            headers = {
                **cors,
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": asked or ALLOW_HEADERS,
                "Access-Control-Max-Age": _MAX_AGE,
            }
            await Response(status_code=204, headers=headers)(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode("latin-1")) for k, v in cors.items()]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
