"""The paths agents need beyond chat: embeddings and ``/api/show``.

:func:`add_agent_routes` declares them with the server's own ``_endpoint`` decorator
(``_routes`` calls it once), so they share its router, route class (errors in each
API's shape), context dependency and OpenAPI document.
"""

from collections.abc import Callable, Coroutine
from typing import Any, Final

from starlette.responses import Response

from . import _embeddings, _show
from ._models_ollama import OllamaEmbeddingsRequest, OllamaEmbedRequest, ShowRequest, ShowResponse
from ._models_tools import (
    EmbeddingRequest,
    EmbeddingResponse,
    OllamaEmbeddingsResponse,
    OllamaEmbedResponse,
)

__all__ = ["add_agent_routes"]

_ERRORS: Final = (400, 401, 404, 413, 502, 503)
_OPENAI_EMBEDDINGS: Final = "OpenAI: embeddings of a text or a list of texts (float or base64)"
_EMBED: Final = "Ollama: L2-normalised embeddings of one or more texts"
_EMBEDDINGS: Final = "Ollama (legacy): the embedding of one prompt"
_SHOW: Final = "Ollama: a model's details, metadata, template and capabilities"
_Handler = Callable[..., Coroutine[Any, Any, Response]]


def add_agent_routes(ctx: Any, endpoint: Callable[..., Callable[[_Handler], _Handler]]) -> None:
    """Declare the embedding and show endpoints with ``_routes``' ``endpoint``.

    ``ctx`` is the annotated context dependency and ``endpoint`` the decorator that
    routes a handler and documents its errors in its API's shape (both from ``_routes``).
    """

    @endpoint("POST", "/v1/embeddings", EmbeddingResponse, _ERRORS, _OPENAI_EMBEDDINGS)
    async def embeddings(body: EmbeddingRequest, context: ctx) -> Response:
        return await _embeddings.openai_embeddings(context, body)

    @endpoint("POST", "/api/embed", OllamaEmbedResponse, _ERRORS, _EMBED)
    async def embed(body: OllamaEmbedRequest, context: ctx) -> Response:
        return await _embeddings.ollama_embed(context, body)

    @endpoint("POST", "/api/embeddings", OllamaEmbeddingsResponse, _ERRORS, _EMBEDDINGS)
    async def embeddings_legacy(body: OllamaEmbeddingsRequest, context: ctx) -> Response:
        return await _embeddings.ollama_embeddings(context, body)

    @endpoint("POST", "/api/show", ShowResponse, (400, 401, 404), _SHOW)
    async def show(body: ShowRequest, context: ctx) -> Response:
        return await _show.show(context, body)
