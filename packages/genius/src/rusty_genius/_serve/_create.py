"""Ollama's model management over HTTP: create, copy, and the blobs adapters arrive as.

``/api/create`` builds the manifest entry of a created model from the request (its
adapters must have been uploaded as blobs first) and stores it through the facade, so
the running server serves it at once. Every check runs before anything is written; with
``stream`` (the default) the answer is Ollama's status lines ending in ``success``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.responses import Response

from facecrab import CreatedModels
from rusty_genius_core import Adapter, ModelEntry, Parameters

from .._created import adapter_name, created_statuses
from ._errors import Api, dumps
from ._replies import error_response, json_response

if TYPE_CHECKING:
    from collections.abc import AsyncIterable

    from facecrab import AssetAuthority

    from ._infer import Context
    from ._models_create import CopyRequest, CreateRequest

__all__ = ["copy", "create", "created_tags", "has_blob", "put_blob"]

_NDJSON = "application/x-ndjson"


async def create(context: Context, body: CreateRequest) -> Response:
    genius = context.genius
    if body.from_ is None:
        return error_response(
            Api.OLLAMA, 400, "'from' is required: the base model (an alias or org/repo:QUANT)"
        )
    blobs = CreatedModels(genius.assets).blobs
    adapters: list[Adapter] = []
    lines: list[dict[str, Any]] = [{"status": f"using base model {body.from_}"}]
    for filename, digest in (body.adapters or {}).items():
        if not await blobs.has(digest):
            return error_response(
                Api.OLLAMA,
                400,
                f"adapters: {filename!r}: no blob {digest} on this server; "
                f"upload it first (POST /api/blobs/{digest})",
            )
        name = adapter_name(filename)
        adapters.append(
            Adapter(path=str(blobs.path(digest)), sha256=digest.split(":", 1)[1], name=name)
        )
        lines.append({"status": f"using adapter {name} ({digest})"})
    licenses = [body.license] if isinstance(body.license, str) else body.license or []
    parameters = Parameters.from_ollama(body.parameters or {})
    entry = ModelEntry(
        base=body.from_,
        adapters=tuple(adapters) or None,
        system=body.system,
        template=body.template,
        parameters=None if parameters.empty else parameters,
        messages=tuple(m.message() for m in body.messages) if body.messages else None,
        license="\n\n".join(licenses) if licenses else None,
    )
    await genius.create_model(body.model, entry)
    lines += [{"status": "writing manifest"}, {"status": "success"}]
    if body.stream is False:
        return json_response(lines[-1])
    return Response(b"".join(dumps(line) + b"\n" for line in lines), media_type=_NDJSON)


async def copy(context: Context, body: CopyRequest) -> Response:
    """200 with an empty body, as Ollama answers."""
    await context.genius.copy_model(body.source, body.destination)
    return Response(status_code=200)


async def has_blob(context: Context, digest: str) -> Response:
    present = await CreatedModels(context.genius.assets).blobs.has(digest)
    return Response(status_code=200 if present else 404)


async def put_blob(context: Context, digest: str, chunks: AsyncIterable[bytes]) -> Response:
    """201 once the body, streamed to a temp file, hashed to ``digest`` and moved in place."""
    await CreatedModels(context.genius.assets).blobs.receive(digest, chunks)
    return Response(status_code=201)


async def created_tags(assets: AssetAuthority) -> list[dict[str, Any]]:
    """``/api/tags`` rows of the created models: the base's size and quantization, and
    when the user's manifest last changed."""
    manifest = CreatedModels(assets).file.path
    changed = await anyio.to_thread.run_sync(
        lambda: manifest.stat().st_mtime if manifest.exists() else 0.0
    )
    modified = dt.datetime.fromtimestamp(changed, dt.UTC).isoformat()
    return [
        {
            "name": status.name,
            "model": status.name,
            "modified_at": modified,
            "size": status.size or 0,
            "digest": "",
            "details": {
                "parent_model": entry.base or "",
                "format": "gguf",
                "family": "",
                "families": None,
                "parameter_size": "",
                "quantization_level": status.quantization,
            },
        }
        for status, entry in await created_statuses(assets)
    ]
