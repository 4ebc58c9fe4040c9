"""The paths agents need beyond chat: embeddings and ``/api/show``.

:func:`add_agent_routes` declares them on the server's router (``_routes`` calls it
once), so they share its route class (errors in each API's shape), its context
dependency and its OpenAPI document.
"""

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from . import _embeddings, _show
from ._errors import Api
from ._models_ollama import OllamaEmbeddingsRequest, OllamaEmbedRequest, ShowRequest, ShowResponse
from ._models_tools import (
    EmbeddingRequest,
    EmbeddingResponse,
    OllamaEmbeddingsResponse,
    OllamaEmbedResponse,
)

__all__ = ["add_agent_routes"]

_ERRORS = (400, 401, 404, 413, 502, 503)


def add_agent_routes(router: APIRouter, ctx: Any, responses: Any) -> None:
    """Declare the embedding and show endpoints on ``router``.

    ``ctx`` is the annotated context dependency and ``responses`` the function that
    documents each API's error answers (both from ``_routes``).
    """

    @router.post(
        "/v1/embeddings",
        response_model=EmbeddingResponse,
        responses=responses(Api.OPENAI, _ERRORS),
        summary="OpenAI: embeddings of a text or a list of texts (float or base64)",
    )
    async def embeddings(body: EmbeddingRequest, context: ctx) -> Response:
        return await _embeddings.openai_embeddings(context, body)

    @router.post(
        "/api/embed",
        response_model=OllamaEmbedResponse,
        responses=responses(Api.OLLAMA, _ERRORS),
        summary="Ollama: L2-normalised embeddings of one or more texts",
    )
    async def embed(body: OllamaEmbedRequest, context: ctx) -> Response:
        return await _embeddings.ollama_embed(context, body)

    @router.post(
        "/api/embeddings",
        response_model=OllamaEmbeddingsResponse,
        responses=responses(Api.OLLAMA, _ERRORS),
        summary="Ollama (legacy): the embedding of one prompt",
    )
    async def embeddings_legacy(body: OllamaEmbeddingsRequest, context: ctx) -> Response:
        return await _embeddings.ollama_embeddings(context, body)

    @router.post(
        "/api/show",
        response_model=ShowResponse,
        responses=responses(Api.OLLAMA, (400, 401, 404)),
        summary="Ollama: a model's details, metadata, template and capabilities",
    )
    async def show(body: ShowRequest, context: ctx) -> Response:
        return await _show.show(context, body)
