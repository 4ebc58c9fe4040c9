"""``POST /api/show``: a downloaded model's details and GGUF metadata, as Ollama answers.

``genius info`` reads this from a running server; the ``model_info`` keys this server adds
to the GGUF ones start with ``_models_ollama.OWN_INFO``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from rusty_genius_core import GeniusError
from rusty_genius_cortex import read_gguf_info

from ._errors import Api
from ._models_ollama import OWN_INFO as OWN
from ._replies import error_response, json_response

if TYPE_CHECKING:
    from pathlib import Path

    from starlette.responses import Response

    from rusty_genius_cortex import GgufInfo

    from ._infer import Context
    from ._models_ollama import ShowRequest

__all__ = ["model_info", "show"]


def _read(path: Path) -> tuple[GgufInfo, float]:
    """The GGUF metadata and the file's modification time (blocking: run in a thread)."""
    return read_gguf_info(path), path.stat().st_mtime


def model_info(info: GgufInfo, *, reference: str, path: str, size: int | None) -> dict[str, Any]:
    arch = info.architecture or "general"
    return {
        "general.architecture": info.architecture,
        "general.name": info.name,
        "general.parameter_count": info.parameter_count,
        "general.size_label": info.size_label,
        "general.file_type": info.file_type,
        f"{arch}.context_length": info.context_length,
        f"{arch}.block_count": info.block_count,
        f"{OWN}reference": reference,
        f"{OWN}path": path,
        f"{OWN}size": size,
        f"{OWN}quantization": info.quantization,
        f"{OWN}gguf_version": info.version,
        f"{OWN}tensor_count": info.tensor_count,
    }


async def show(context: Context, body: ShowRequest) -> Response:
    reference = body.model
    try:
        local = await context.genius.assets.find_local(reference)
        if local is None:
            return error_response(Api.OLLAMA, 404, f"model '{reference}' not found")
        info, modified = await anyio.to_thread.run_sync(_read, local.path)
    except GeniusError as exc:
        return error_response(Api.OLLAMA, exc)
    family = info.architecture or ""
    return json_response(
        {
            "modelfile": "",
            "parameters": "",
            "template": info.chat_template or "",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": family,
                "families": [family] if family else None,
                "parameter_size": info.size_label or "",
                "quantization_level": local.spec.quantization,
            },
            "model_info": model_info(
                info, reference=local.spec.reference, path=str(local.path), size=local.spec.size
            ),
            "capabilities": ["completion"],
            "modified_at": dt.datetime.fromtimestamp(modified, dt.UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
        }
    )
