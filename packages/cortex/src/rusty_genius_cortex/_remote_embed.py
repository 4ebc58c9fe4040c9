"""Embeddings from an OpenAI-compatible server: ``POST /v1/embeddings``.

The texts go in one request (``encoding_format: "float"``, ``dimensions`` when asked),
the vectors come back ordered by ``index``. OpenAI's answer counts only the tokens of
all texts together; :func:`split_tokens` shares that total out by the texts' lengths, so
the per-text counts add up to what the server reported. ``truncate`` has no OpenAI
spelling: a text longer than the server's context is the server's 400, which comes back
as :class:`~rusty_genius_core.ContextLengthError` when the server says so.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import httpx

from rusty_genius_core import (
    BusyError,
    ConfigError,
    ContextLengthError,
    EngineError,
    UnsupportedError,
)

from ._embedding import RawEmbeddings
from ._openai_wire import error_text

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._embedding import EmbedRequest

__all__ = ["remote_embeddings", "split_tokens"]


def split_tokens(total: int, texts: Sequence[str]) -> tuple[int, ...]:
    """``total`` shared out over ``texts`` by their lengths (largest remainders), summing to it."""
    weights = [max(len(t), 1) for t in texts]
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [math.floor(s) for s in shares]
    by_remainder = sorted(range(len(texts)), key=lambda i: shares[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return tuple(counts)


def _code(body: bytes) -> str | None:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    return error.get("code") if isinstance(error, dict) else None


async def remote_embeddings(
    http: httpx.AsyncClient,
    base_url: str,
    headers: Mapping[str, str],
    model: str | None,
    request: EmbedRequest,
) -> RawEmbeddings:
    url = f"{base_url}/v1/embeddings"
    body: dict[str, Any] = {
        "model": model,
        "input": list(request.inputs),
        "encoding_format": "float",
    }
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    try:
        response = await http.post(url, json=body, headers=dict(headers))
    except httpx.HTTPError as exc:
        raise EngineError(f"cannot reach {url}: {exc!r}") from exc
    if response.status_code != 200:
        text = f"{url} answered {response.status_code}: {error_text(response.content)}"
        if response.status_code == 404:
            raise UnsupportedError(text)
        if response.status_code in (429, 503):
            raise BusyError(text)
        if _code(response.content) == "context_length_exceeded":
            raise ContextLengthError(text)
        if response.status_code in (400, 422):
            raise ConfigError(text)
        raise EngineError(text)
    try:
        data = response.json()
        rows = sorted(data["data"], key=lambda row: row["index"])
        vectors = tuple(tuple(float(x) for x in row["embedding"]) for row in rows)
        usage = data.get("usage") or {}
        total = usage.get("prompt_tokens", 0)
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"{url} did not answer with OpenAI embeddings") from exc
    if len(vectors) != len(request.inputs):
        raise EngineError(f"{url} sent {len(vectors)} vectors for {len(request.inputs)} texts")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        total = 0
    return RawEmbeddings(vectors, split_tokens(total, request.inputs))
