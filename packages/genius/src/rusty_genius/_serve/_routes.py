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
from typing import Annotated, Any, Final, cast

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
_INFERENCE_ERRORS: Final = (400, 401, 404, 413, 502, 503)
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


@router.get(
    "/v1/models",
    response_model=ModelList,
    responses=_responses(_OPENAI, (401,)),
    summary="OpenAI: downloaded and loaded models",
)
async def list_models(context: Ctx) -> Response:
    return await _openai.list_models(context)


@router.get(
    "/v1/models/{model:path}",
    response_model=ModelCard,
    responses=_responses(_OPENAI, (401, 404)),
    summary="OpenAI: one model, if this server can serve it",
)
async def retrieve_model(model: str, context: Ctx) -> Response:
    row = await _openai.retrieve_model(context, model)
    if row is None:
        message = f"model {model!r} is not served here"
        return error_response(_OPENAI, 404, message, param="model", code="model_not_found")
    return json_response(row)


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses=_responses(_OPENAI, _INFERENCE_ERRORS, stream=(_SSE, ChatCompletionChunk)),
    summary="OpenAI: chat completion, streamed as SSE with stream=true",
)
async def chat_completions(body: ChatCompletionRequest, context: Ctx) -> Response:
    return _openai.chat_completions(context, body)


@router.post(
    "/v1/completions",
    response_model=Completion,
    responses=_responses(_OPENAI, _INFERENCE_ERRORS, stream=(_SSE, CompletionChunk)),
    summary="OpenAI: raw text completion (no chat template)",
)
async def completions(body: CompletionRequest, context: Ctx) -> Response:
    return _openai.completions(context, body)


@router.post(
    "/api/chat",
    response_model=OllamaChatResponse,
    responses=_responses(_OLLAMA, _INFERENCE_ERRORS, stream=(_NDJSON, OllamaChatResponse)),
    summary="Ollama: chat, NDJSON-streamed unless stream=false",
)
async def chat(body: OllamaChatRequest, context: Ctx) -> Response:
    return _ollama.chat(context, body)


@router.post(
    "/api/generate",
    response_model=GenerateResponse,
    responses=_responses(_OLLAMA, _INFERENCE_ERRORS, stream=(_NDJSON, GenerateResponse)),
    summary="Ollama: generate from a prompt, NDJSON-streamed unless stream=false",
)
async def generate(body: GenerateRequest, context: Ctx) -> Response:
    return _ollama.generate(context, body)


@router.get(
    "/api/tags",
    response_model=Tags,
    responses=_responses(_OLLAMA, (401,)),
    summary="Ollama: downloaded models",
)
async def tags(context: Ctx) -> Response:
    return await _ollama.tags(context)


@router.get(
    "/api/ps",
    response_model=RunningModels,
    responses=_responses(_OLLAMA, (401,)),
    summary="Ollama: loaded models",
)
async def ps(context: Ctx) -> Response:
    return await _ollama.ps(context)


@router.post(
    "/api/pull",
    response_model=PullStatus,
    responses=_responses(_OLLAMA, (400, 401, 404, 502), stream=(_NDJSON, PullStatus)),
    summary="Ollama: download a model, progress streamed as NDJSON",
)
async def pull(body: PullRequest, context: Ctx) -> Response:
    return _ollama.pull(context, body)


@router.delete(
    "/api/delete",
    response_class=Response,
    responses=_responses(_OLLAMA, (400, 401, 404), deleted=True),
    summary="Ollama: delete a downloaded model",
)
async def delete(body: DeleteRequest, context: Ctx) -> Response:
    return await _ollama.delete(context, body)


add_agent_routes(router, Ctx, _responses)


@router.get(
    "/api/version",
    response_model=Version,
    responses=_responses(_OLLAMA, (401,)),
    summary="Ollama: server version",
)
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
