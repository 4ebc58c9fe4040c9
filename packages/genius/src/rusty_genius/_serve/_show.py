"""Ollama's ``POST /api/show``: what a model is and what it can do.

For a model on disk the answer comes from its GGUF header: ``details`` (family,
parameter size, quantization), ``model_info`` (every metadata key; long arrays such as
the tokenizer's vocabulary are ``null``, as Ollama leaves them without ``verbose``),
``template`` (the chat template) and ``capabilities``, derived as Ollama derives them:
``embedding`` when the model declares a pooling type, ``completion`` otherwise,
``tools`` when its chat template takes tools, ``thinking`` when it has a thinking mode.
Pinky, which needs no weights, answers for a name no manifest knows with its own
abilities, derived the same way: from what its engine implements. A model that is neither on disk
nor servable is 404. ``model_info`` also carries this server's own keys, under
``_models_ollama.OWN_INFO`` (the file's reference, path and size, its quantization, GGUF
version and tensor count): ``genius info`` rebuilds its record from them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import anyio

from rusty_genius_core import GeniusError
from rusty_genius_cortex import PINKY_THOUGHT, EngineBase, GgufArray, PinkyEngine, read_gguf_info

from ._errors import Api
from ._models_ollama import OWN_INFO as OWN
from ._replies import error_response, json_response
from ._show_created import with_created

if TYPE_CHECKING:
    from starlette.responses import Response

    from rusty_genius_cortex import GgufInfo

    from ._infer import Context
    from ._models_ollama import ShowRequest

__all__ = ["engine_capabilities", "gguf_capabilities", "show"]

_THINKING_MARKS = ("<think>", "enable_thinking", "reasoning_content", "thinking")


def gguf_capabilities(info: GgufInfo) -> list[str]:
    """Ollama's capability words for a GGUF, from its metadata and chat template."""
    template = info.chat_template or ""
    embedding = any(key.endswith(".pooling_type") for key in info.metadata)
    found = ["embedding"] if embedding else ["completion"]
    if "tools" in template:
        found.append("tools")
    if any(mark in template for mark in _THINKING_MARKS):
        found.append("thinking")
    return found


def engine_capabilities(engine: type[EngineBase[Any]]) -> list[str]:
    """The capability words of an engine that needs no weights, from what it implements."""
    found = ["completion"]
    if engine._supports_tools:
        found.append("tools")
    if engine._embed is not EngineBase._embed:
        found.append("embedding")
    if engine is PinkyEngine and PINKY_THOUGHT.startswith("<think>"):
        found.append("thinking")
    return found


def _plain(value: object) -> object:
    if isinstance(value, GgufArray):
        return None
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _details(info: GgufInfo | None, family: str, quantization: str) -> dict[str, Any]:
    families = [family] if family else None
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": families,
        "parameter_size": (info.size_label or "") if info is not None else "",
        "quantization_level": quantization,
    }


async def show(context: Context, body: ShowRequest) -> Response:
    genius = context.genius
    try:
        try:
            local = await genius.assets.find_local(body.model)
            entry = await genius.model_entry(body.model)
        except GeniusError as exc:
            if genius.backend != "pinky" or exc.http_status != 404:
                raise
            return json_response(_pinky_show(body.model))  # no manifest knows it: Pinky's own
        if local is None and entry is not None and genius.backend == "pinky":
            # A created model Pinky serves without its base's file.
            return json_response(with_created(_pinky_show(body.model), entry))
        if local is None:
            return error_response(Api.OLLAMA, 404, f"model '{body.model}' not found")
        info = await anyio.to_thread.run_sync(read_gguf_info, local.path)
        modified = dt.datetime.fromtimestamp(local.path.stat().st_mtime, dt.UTC)
    except GeniusError as exc:
        return error_response(Api.OLLAMA, exc, retry_after=context.retry_after)
    model_info = {key: _plain(value) for key, value in info.metadata.items()}
    if info.parameter_count is not None:
        model_info.setdefault("general.parameter_count", info.parameter_count)
    model_info.update(
        {
            f"{OWN}reference": local.spec.reference,
            f"{OWN}path": str(local.path),
            f"{OWN}size": local.spec.size,
            f"{OWN}quantization": info.quantization,
            f"{OWN}gguf_version": info.version,
            f"{OWN}tensor_count": info.tensor_count,
        }
    )
    shown = with_created(
        {
            "modelfile": f"FROM {local.path}\n",
            "parameters": "",
            "template": info.chat_template or "",
            "details": _details(
                info, info.architecture or "", info.quantization or local.spec.quantization
            ),
            "model_info": model_info,
            "capabilities": gguf_capabilities(info),
            "modified_at": modified.isoformat(),
        },
        entry,
    )
    return json_response(shown)


def _pinky_show(model: str) -> dict[str, Any]:
    return {
        "modelfile": f"FROM {model}\n",
        "parameters": "",
        "template": "",
        "details": _details(None, "pinky", ""),
        "model_info": {"general.architecture": "pinky"},
        "capabilities": engine_capabilities(PinkyEngine),
        "modified_at": dt.datetime.now(dt.UTC).isoformat(),
    }
