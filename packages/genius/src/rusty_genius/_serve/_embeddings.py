"""The embedding endpoints: OpenAI's ``/v1/embeddings``, Ollama's ``/api/embed`` and the
legacy ``/api/embeddings``.

Each goes through :meth:`~rusty_genius.Genius.embed`: the model loads as it would for
chat, ``keep_alive`` applies, vectors are L2-normalised. OpenAI's refuses a text
longer than the context (400, ``context_length_exceeded``), as OpenAI does; Ollama's
cut it to the context unless ``truncate`` is false, as Ollama does (``options.num_ctx``
loads the model with that context first). ``encoding_format: "base64"`` sends each
vector as the base64 of its little-endian float32 bytes, as OpenAI's clients expect.
"""

from __future__ import annotations

import base64
import struct
import time
from typing import TYPE_CHECKING

from rusty_genius_core import GeniusError, LoadOptions

from ._errors import Api
from ._replies import error_response, json_response

if TYPE_CHECKING:
    from starlette.responses import Response

    from rusty_genius_core import Embeddings

    from ._infer import Context
    from ._models_ollama import OllamaEmbeddingsRequest, OllamaEmbedRequest, Options
    from ._models_tools import EmbeddingRequest

__all__ = ["ollama_embed", "ollama_embeddings", "openai_embeddings"]


def _base64(vector: tuple[float, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _ns(seconds: float) -> int:
    return max(0, round(seconds * 1e9))


async def _embed(
    context: Context,
    model: str,
    inputs: list[str],
    *,
    truncate: bool,
    dimensions: int | None = None,
    keep_alive: float | None = None,
    options: Options | None = None,
) -> Embeddings:
    if options is not None and options.num_ctx is not None:
        await context.genius.load(model, LoadOptions(context_size=options.num_ctx))
    return await context.genius.embed(
        model, inputs, truncate=truncate, dimensions=dimensions, keep_alive=keep_alive
    )


async def openai_embeddings(context: Context, body: EmbeddingRequest) -> Response:
    try:
        result = await _embed(
            context,
            body.model,
            body.input,
            truncate=False,
            dimensions=body.dimensions,
            keep_alive=body.keep_alive,
        )
    except GeniusError as exc:
        return error_response(Api.OPENAI, exc, retry_after=context.retry_after)
    encode = _base64 if body.encoding_format == "base64" else list
    return json_response(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode(vector)}
                for i, vector in enumerate(result.vectors)
            ],
            "model": body.model,
            "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
        }
    )


async def ollama_embed(context: Context, body: OllamaEmbedRequest) -> Response:
    started = time.perf_counter()
    try:
        result = await _embed(
            context,
            body.model,
            body.input,
            truncate=body.truncate is not False,
            dimensions=body.dimensions,
            keep_alive=body.keep_alive,
            options=body.options,
        )
    except GeniusError as exc:
        return error_response(Api.OLLAMA, exc, retry_after=context.retry_after)
    return json_response(
        {
            "model": body.model,
            "embeddings": [list(v) for v in result.vectors],
            "total_duration": _ns(time.perf_counter() - started),
            "load_duration": _ns(result.load_duration),
            "prompt_eval_count": result.prompt_tokens,
        }
    )


async def ollama_embeddings(context: Context, body: OllamaEmbeddingsRequest) -> Response:
    try:
        result = await _embed(
            context,
            body.model,
            [body.prompt],
            truncate=True,
            keep_alive=body.keep_alive,
            options=body.options,
        )
    except GeniusError as exc:
        return error_response(Api.OLLAMA, exc, retry_after=context.retry_after)
    return json_response({"embedding": list(result.vectors[0])})
