"""Pull time is when a model's LoRA adapters are checked against its base.

facecrab fetches and verifies the bytes but cannot read GGUF metadata (it never imports
cortex); the facade runs cortex's :func:`~rusty_genius_cortex.check_adapters` on what it
fetched, so a file that is no LoRA adapter, or one made for another architecture, is
refused by ``genius pull`` (and ``Genius.ensure_model``/``pull``) naming the file, before
anything loads. The failure is reported as ``AssetFailed`` first, as facecrab's are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio.to_thread

from rusty_genius_core import AssetFailed, GeniusError
from rusty_genius_cortex import check_adapters

if TYPE_CHECKING:
    from facecrab import LocalModel, ProgressCallback

__all__: list[str] = []  # the facade's own step, not a name it exports


async def check_pulled(
    reference: str, local: LocalModel, progress: ProgressCallback | None
) -> LocalModel:
    """``local`` when its adapters fit its base; else ``AdapterError`` (after ``AssetFailed``)."""
    if not local.adapters:
        return local
    try:
        await anyio.to_thread.run_sync(check_adapters, local.path, local.adapters)
    except GeniusError as exc:
        if progress is not None:
            await progress(AssetFailed(reference=reference, message=exc.message))
        raise
    return local
