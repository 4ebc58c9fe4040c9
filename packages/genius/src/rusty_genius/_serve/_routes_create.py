"""The paths of Ollama's model management: create, copy, and blobs.

:func:`add_create_routes` declares them on the server's router (``_routes`` calls it
once), like the agent routes. The blob paths use their own route class: their body is
a file, streamed to disk as it arrives, so it is never read whole as the JSON routes'
bodies are.
"""

from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from rusty_genius_core import GeniusError

from . import _create
from ._errors import Api
from ._infer import Context
from ._models_create import BlobDigest, CopyRequest, CreateRequest, CreateStatus
from ._replies import error_response

__all__ = ["add_create_routes"]

_ERRORS = (400, 401, 404, 413)


class _BlobRoute(APIRoute):
    """A route whose body is not parsed first; a GeniusError gets its class's status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except GeniusError as exc:
                return error_response(Api.OLLAMA, exc)

        return guarded


def add_create_routes(router: APIRouter, ctx: Any, responses: Any) -> None:
    """Declare ``/api/create``, ``/api/copy`` and ``/api/blobs/{digest}`` on ``router``."""

    @router.post(
        "/api/create",
        response_model=CreateStatus,
        responses=responses(Api.OLLAMA, _ERRORS),
        summary="Ollama: create a model over a base (status lines unless stream=false)",
    )
    async def create(body: CreateRequest, context: ctx) -> Response:
        return await _create.create(context, body)

    @router.post(
        "/api/copy",
        response_class=Response,
        responses={**responses(Api.OLLAMA, _ERRORS), 200: {"description": "copied"}},
        summary="Ollama: copy a model under another name",
    )
    async def copy(body: CopyRequest, context: ctx) -> Response:
        return await _create.copy(context, body)

    async def has_blob(digest: BlobDigest, request: Request) -> Response:
        return await _create.has_blob(_context(request), digest)

    async def put_blob(digest: BlobDigest, request: Request) -> Response:
        return await _create.put_blob(_context(request), digest, request.stream())

    router.add_api_route(
        "/api/blobs/{digest}",
        has_blob,
        methods=["HEAD"],
        response_class=Response,
        responses={200: {"description": "present"}, 404: {"description": "absent"}},
        summary="Ollama: whether this server holds the blob",
        route_class_override=_BlobRoute,
    )
    router.add_api_route(
        "/api/blobs/{digest}",
        put_blob,
        methods=["POST"],
        response_class=Response,
        status_code=201,
        responses={**responses(Api.OLLAMA, _ERRORS), 201: {"description": "stored"}},
        summary="Ollama: upload a file (an adapter) as a blob named by its sha256",
        route_class_override=_BlobRoute,
    )


def _context(request: Request) -> Context:
    return cast("Context", request.app.state.context)
