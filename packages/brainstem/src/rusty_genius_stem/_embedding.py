"""How the brainstem serves an :class:`~rusty_genius_core.Embed` once its model is loaded.

The orchestrator admits, queues, loads and keeps alive an ``Embed`` as it does an
``Infer`` (same model slots, same ``keep_alive``); only the last step differs: one call
to the engine's ``embed`` whose :class:`~rusty_genius_core.Embeddings` is the final body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from rusty_genius_core import Embed, Embeddings
    from rusty_genius_cortex import Engine

__all__ = ["serve_embed"]


async def serve_embed(engine: Engine, command: Embed, load_seconds: float | None) -> Embeddings:
    """Embed ``command.inputs``; the load is charged only to the request that waited for it."""
    result = await engine.embed(
        command.inputs, truncate=command.truncate, dimensions=command.dimensions
    )
    return attrs.evolve(result, model=command.model, load_duration=load_seconds or 0.0)
