"""The paths of ``genius serve``, declared on a FastAPI app, and its OpenAPI document.

Each endpoint takes its validated request model; the handlers in :mod:`._openai`
and :mod:`._ollama` answer it. The running :class:`~rusty_genius.Genius` and the
counters reach the endpoints as ``app.state.context``, so the document can be
built without a server (:func:`openapi_document`). FastAPI's 422 answers are
replaced by 400s in each API's own error shape (:mod:`._app`), and the document
says so.
"""

import functools
import json
import logging
import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Final, TypeVar, cast

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from rusty_genius_core import GeniusError

from . import _ollama, _openai
from ._errors import Api
from ._infer import Context
from ._models_ollama import (
    DeleteRequest,
    GenerateRequest,
    GenerateResponse,
    Health,
    OllamaChatRequest,
    OllamaChatResponse,
    OllamaErrorResponse,
    PullRequest,
    PullStatus,
    RunningModels,
    Tags,
    Version,
)
from ._models_openai import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionChunk,
    CompletionRequest,
    ModelCard,
    ModelList,
    OpenAIErrorResponse,
)
from ._page import page_router
from ._replies import error_response, json_response
from ._routes_agent import add_agent_routes
from ._routes_create import add_create_routes

__all__ = ["api_of", "build_api", "openapi_document"]

log = logging.getLogger("rusty_genius.serve")

_DESCRIBED: Final = {
    400: "bad input; the error names the field",
    401: "missing or wrong API key",
    404: "unknown model",
    405: "method not allowed",
    413: "request body too large",
    502: "the model hub failed",
    503: "overloaded; retry after Retry-After seconds",
}
_INFER: Final = (400, 401, 404, 413, 502, 503)
"""What an inference path may answer besides 200."""
_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def api_of(path: str) -> Api:
    """Paths under ``/v1`` answer errors in OpenAI's shape, the others in Ollama's."""
    return Api.OPENAI if path == "/v1" or path.startswith("/v1/") else Api.OLLAMA


def _context(request: Request) -> Context:
    return cast("Context", request.app.state.context)


async def _context_dependency(request: Request) -> Context:
    """Async, so that FastAPI calls it inline rather than in a worker thread."""
    return _context(request)


Ctx = Annotated[Context, Depends(_context_dependency)]


def _json_int(text: str) -> int | float:
    """A JSON integer; one past Python's limit on digits (4300) reads as an infinity.

    ``json.loads`` refuses such an integer outright, and FastAPI then answers a bare
    "error parsing the body"; no field takes a number that large, so read as an
    infinity it fails the field's own check, and the 400 names the field.
    """
    try:
        return int(text)
    except ValueError:
        return -math.inf if text.startswith("-") else math.inf


async def _read_json(request: Request) -> None:
    """Parse the body as FastAPI would, but with :func:`_json_int`, for it to reuse."""
    try:
        body = await request.body()
    except HTTPException:  # too large (413) or too slow (408): answered as such
        raise
    except Exception:  # the client left mid-body: FastAPI reads again and answers its way
        return
    if not body:
        return
    try:
        parsed = json.loads(body, parse_int=_json_int)
    except ValueError:
        return  # FastAPI parses it again and answers the error its own way
    request._json = parsed  # Starlette's cache of request.json(), which FastAPI reads


class _Route(APIRoute):
    """A route whose unexpected failures are answered (logged, 500) in its API's shape,
    and whose :class:`GeniusError` gets the status its class carries."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        api = api_of(self.path)

        async def guarded(request: Request) -> Response:
            try:
                if request.method in _WITH_BODY:
                    await _read_json(request)
                return await handler(request)
            except (HTTPException, RequestValidationError):
                raise
            except GeniusError as exc:
                retry_after = _context(request).retry_after
                return error_response(api, exc, retry_after=retry_after)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return error_response(api, 500, "internal server error")

        return guarded


def _responses(
    api: Api,
    errors: tuple[int, ...],
    *,
    stream: tuple[str, type] | None = None,
    deleted: bool = False,
) -> dict[int | str, dict[str, Any]]:
    model = OpenAIErrorResponse if api is Api.OPENAI else OllamaErrorResponse
    out: dict[int | str, dict[str, Any]] = {
        code: {"model": model, "description": _DESCRIBED[code]} for code in errors
    }
    if stream is not None:
        media, item = stream
        ref = {"$ref": f"#/components/schemas/{item.__name__}"}
        out[200] = {"content": {media: {"schema": ref}}}
    if deleted:
        out[200] = {"description": "deleted (an empty body)"}
    return out


_SSE: Final = "text/event-stream"
_NDJSON: Final = "application/x-ndjson"
_OPENAI: Final = Api.OPENAI
_OLLAMA: Final = Api.OLLAMA

router = APIRouter(route_class=_Route)


@router.get("/health", response_model=Health, summary="liveness and queue counters")
async def health(context: Ctx) -> Response:
    stats = context.stats.snapshot()
    return json_response(
        {
            "status": "ok" if context.genius.running else "stopped",
            "backend": context.genius.backend,
            "waiting": stats.waiting,
            "streaming": stats.streaming,
        }
    )


_Handler = TypeVar("_Handler", bound=Callable[..., Coroutine[Any, Any, Response]])


def _endpoint(
    method: str,
    path: str,
    model: type | None,
    errors: tuple[int, ...],
    summary: str,
    streams: type | None = None,
) -> Callable[[_Handler], _Handler]:
    """Route ``method path`` to the handler, documenting its errors in its API's shape.

    ``model`` is the JSON answer (``None``: an empty body, for a deletion); ``streams``
    the shape of each streamed item, as SSE for OpenAI's paths and NDJSON for Ollama's.
    """
    api = api_of(path)
    stream = None if streams is None else (_SSE if api is Api.OPENAI else _NDJSON, streams)
    responses = _responses(api, errors, stream=stream, deleted=model is None)
    answer: dict[str, Any] = (
        {"response_class": Response} if model is None else {"response_model": model}
    )
    return router.api_route(path, methods=[method], responses=responses, summary=summary, **answer)


_MODELS: Final = "OpenAI: downloaded and loaded models"
_MODEL: Final = "OpenAI: one model, if this server can serve it"
_CHAT_COMPLETIONS: Final = "OpenAI: chat completion, streamed as SSE with stream=true"
_COMPLETIONS: Final = "OpenAI: raw text completion (no chat template)"
_CHAT: Final = "Ollama: chat, NDJSON-streamed unless stream=false"
_GENERATE: Final = "Ollama: generate from a prompt, NDJSON-streamed unless stream=false"
_TAGS: Final = "Ollama: downloaded models"
_PS: Final = "Ollama: loaded models"
_PULL: Final = "Ollama: download a model, progress streamed as NDJSON"
_DELETE: Final = "Ollama: delete a downloaded model"
_VERSION: Final = "Ollama: server version"


@_endpoint("GET", "/v1/models", ModelList, (401,), _MODELS)
async def list_models(context: Ctx) -> Response:
    return await _openai.list_models(context)


@_endpoint("GET", "/v1/models/{model:path}", ModelCard, (401, 404), _MODEL)
async def retrieve_model(model: str, context: Ctx) -> Response:
    row = await _openai.retrieve_model(context, model)
    if row is None:
        message = f"model {model!r} is not served here"
        return error_response(_OPENAI, 404, message, param="model", code="model_not_found")
    return json_response(row)


@_endpoint(
    "POST", "/v1/chat/completions", ChatCompletion, _INFER, _CHAT_COMPLETIONS, ChatCompletionChunk
)
async def chat_completions(body: ChatCompletionRequest, context: Ctx) -> Response:
    return _openai.chat_completions(context, body)


@_endpoint("POST", "/v1/completions", Completion, _INFER, _COMPLETIONS, CompletionChunk)
async def completions(body: CompletionRequest, context: Ctx) -> Response:
    return _openai.completions(context, body)


@_endpoint("POST", "/api/chat", OllamaChatResponse, _INFER, _CHAT, OllamaChatResponse)
async def chat(body: OllamaChatRequest, context: Ctx) -> Response:
    return _ollama.chat(context, body)


@_endpoint("POST", "/api/generate", GenerateResponse, _INFER, _GENERATE, GenerateResponse)
async def generate(body: GenerateRequest, context: Ctx) -> Response:
    return _ollama.generate(context, body)


@_endpoint("GET", "/api/tags", Tags, (401,), _TAGS)
async def tags(context: Ctx) -> Response:
    return await _ollama.tags(context)


@_endpoint("GET", "/api/ps", RunningModels, (401,), _PS)
async def ps(context: Ctx) -> Response:
    return await _ollama.ps(context)


@_endpoint("POST", "/api/pull", PullStatus, (400, 401, 404, 502), _PULL, PullStatus)
async def pull(body: PullRequest, context: Ctx) -> Response:
    return _ollama.pull(context, body)


@_endpoint("DELETE", "/api/delete", None, (400, 401, 404), _DELETE)
async def delete(body: DeleteRequest, context: Ctx) -> Response:
    return await _ollama.delete(context, body)


add_agent_routes(Ctx, _endpoint)
add_create_routes(router, Ctx, _responses)


@_endpoint("GET", "/api/version", Version, (401,), _VERSION)
async def server_version() -> Response:
    return json_response({"version": _ollama.server_version()})


_TITLE: Final = "rusty-genius"
_SUMMARY: Final = "OpenAI- and Ollama-compatible inference over a local brainstem."
_STREAMED: Final = (ChatCompletionChunk, CompletionChunk)


def _document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with each API's 400 in place of 422 and the streamed shapes.

    Every app has the same paths, so the document is built once per process.
    """
    if app.openapi_schema is None:
        app.openapi_schema = _shared_document()
    return app.openapi_schema


@functools.cache
def _shared_document() -> dict[str, Any]:
    doc = get_openapi(title=_TITLE, version="1", description=_SUMMARY, routes=router.routes)
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for model in _STREAMED:
        shown = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(shown.pop("$defs", {}))
        schemas[model.__name__] = shown
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    doc["security"] = [{}, {"bearer": []}]
    return doc


def build_api(
    exception_handlers: dict[Any, Callable[[Request, Any], Coroutine[Any, Any, Response]]]
    | None = None,
) -> FastAPI:
    """The FastAPI app with every path; ``app.state.context`` must be set before requests."""
    app = FastAPI(
        title=_TITLE,
        version="1",
        description=_SUMMARY,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        exception_handlers=exception_handlers,
    )
    app.include_router(page_router)  # the chat page at / and its files under /ui/
    app.include_router(router)
    app.openapi = lambda: _document(app)  # type: ignore[method-assign]
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document ``/openapi.json`` serves (no server needed)."""
    return build_api().openapi()
