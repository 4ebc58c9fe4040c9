"""Is this file a LoRA adapter for that base model? Read from GGUF metadata alone.

A LoRA adapter GGUF (llama.cpp's ``convert_lora_to_gguf.py``) says so in its header:
``general.type = "adapter"``, ``adapter.type = "lora"``, and the
``general.architecture`` of the model it was trained on, which must be the base's.
The check reads only the headers (no llama.cpp, no weights), so a wrong file is
refused at pull or create time, naming the file and what is wrong, before anything
loads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from rusty_genius_core import EngineError, ManifestError

from ._gguf import read_gguf_info

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rusty_genius_core import AdapterFile

    from ._gguf import GgufInfo

__all__ = ["AdapterError", "check_adapters", "check_lora_adapter"]


class AdapterError(ManifestError):
    """A LoRA adapter file is not one, or was made for another architecture than its base."""


def check_lora_adapter(
    path: str | os.PathLike[str], base_architecture: str | None, *, name: str | None = None
) -> GgufInfo:
    """The adapter's GGUF info, or :class:`AdapterError` naming the file and the problem.

    ``base_architecture`` is the base model's ``general.architecture`` (``None`` skips
    that comparison). Blocking: async callers hop to a thread.
    """
    path = Path(path)
    what = f"adapter {name!r} ({os.fspath(path)})" if name else f"adapter {os.fspath(path)}"
    try:
        info = read_gguf_info(path)
    except EngineError as exc:
        raise AdapterError(f"{what} is not a readable GGUF file: {exc.message}") from None
    kind = info.metadata.get("general.type")
    if kind != "adapter":
        shown = "missing" if kind is None else repr(kind)
        raise AdapterError(
            f"{what} is not a LoRA adapter: its general.type is {shown}, not 'adapter'"
            + (" (it is a model; name it as the base instead)" if kind == "model" else "")
        )
    adapter_type = info.metadata.get("adapter.type")
    if adapter_type != "lora":
        shown = "missing" if adapter_type is None else repr(adapter_type)
        raise AdapterError(f"{what} is not a LoRA adapter: its adapter.type is {shown}, not 'lora'")
    if base_architecture is not None and info.architecture != base_architecture:
        raise AdapterError(
            f"{what} was made for the architecture {info.architecture!r}, "
            f"but its base model is {base_architecture!r}"
        )
    return info


def check_adapters(base: str | os.PathLike[str], adapters: Sequence[AdapterFile]) -> None:
    """Check every adapter of ``adapters`` against the base GGUF at ``base``.

    The base must be a readable GGUF (its :class:`EngineError` otherwise). Blocking.
    """
    if not adapters:
        return
    architecture = read_gguf_info(base).architecture
    for adapter in adapters:
        check_lora_adapter(adapter.path, architecture, name=adapter.name)
