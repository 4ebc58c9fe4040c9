"""LoRA adapters on a loaded llama model: each file loaded once, shared by every request.

``llama_adapter_lora_init`` reads an adapter's tensors onto the model (a few MB for a
small rank, next to the base's weights, which stay one copy); the adapter lives as long
as the model (llama.cpp frees it with the model). A request names its adapter set;
:func:`native_adapters` turns it into the (adapter, scale) pairs the decoding loop puts
on the context with ``llama_set_adapters_lora`` for the steps that serve it. Adapters
at scale 0 change nothing and are left out, so they cost no batch split.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rusty_genius_core import adapter_set_key

from ._gguf_adapter import AdapterError, check_lora_adapter

if TYPE_CHECKING:
    from collections.abc import Hashable

    from rusty_genius_core import AdapterSet

    from ._llama_decode import LoadedModel

__all__ = ["native_adapters"]


def native_adapters(
    model: LoadedModel, adapters: AdapterSet
) -> tuple[tuple[tuple[Any, float], ...], Hashable]:
    """The loaded adapters and scales of ``adapters`` on ``model``, and their set's key.

    Loads each adapter file the first time (blocking: a worker thread); a file llama.cpp
    refuses (another model's tensor shapes) is :class:`AdapterError` naming it.
    """
    pairs: list[tuple[Any, float]] = []
    for adapter in adapters:
        if adapter.scale == 0:
            continue
        with model.adapters_lock:
            native = model.adapters.get(adapter.path)
            if native is None:
                native = _load(model, adapter.path, adapter.name)
                model.adapters[adapter.path] = native
        pairs.append((native, float(adapter.scale)))
    return tuple(pairs), adapter_set_key(adapters)


def _load(model: LoadedModel, path: os.PathLike[str], name: str) -> Any:
    # The header first: a clear message for a file that is no LoRA adapter of this model.
    architecture = model.model.metadata().get("general.architecture")
    check_lora_adapter(path, architecture, name=name)
    native = model.lib.llama_adapter_lora_init(model.model.model, os.fsencode(path))
    if not native:
        raise AdapterError(
            f"adapter {name!r} ({os.fspath(path)}): llama.cpp could not load it onto "
            f"{model.name!r} (its tensors do not fit this model's: another base model?)"
        )
    return native
