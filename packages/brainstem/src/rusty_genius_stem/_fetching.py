"""Making a model's weights local for a load, its memory estimate, and its load options."""

from __future__ import annotations

from os import fspath
from typing import TYPE_CHECKING

import attrs

from rusty_genius_core import AssetError, GeniusError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from rusty_genius_core import LoadOptions, ModelSpec
    from rusty_genius_cortex import Engine

    from ._assets import AssetSource, ProgressCallback

__all__ = ["fetch_weights", "load_options", "weights_size"]


def load_options(options: LoadOptions, spec: ModelSpec | None, parallel: int | None) -> LoadOptions:
    """What a load leaves open, filled: the brainstem's ``parallel``, and a created model's
    chat template and context size (its ``TEMPLATE`` and ``num_ctx``)."""
    if options.parallel is None and parallel is not None:
        options = attrs.evolve(options, parallel=parallel)
    if spec is not None:
        options = attrs.evolve(
            options,
            chat_template=options.chat_template or spec.template,
            context_size=options.context_size or spec.context_size,
        )
    return options


def weights_size(path: Path | None) -> int:
    """The estimated memory of a model loaded from ``path``: its file size; 0 without one."""
    if path is None:
        return 0
    try:
        return path.stat().st_size
    except OSError as exc:
        raise AssetError(f"cannot read the size of {fspath(path)!r}: {exc}") from exc


async def fetch_weights(
    assets: AssetSource,
    engine: Engine,
    name: str,
    forward: ProgressCallback,
    *,
    fetch: bool,
    resolve: Callable[[str], Awaitable[ModelSpec | None]],
) -> tuple[ModelSpec | None, Path | None]:
    """Make the weights local, forwarding asset events; skipped for engines without weights
    unless ``fetch`` (then ``resolve`` names the model offline, ``None`` when unknown: Pinky
    only needs a name). An asset source's own bug is still an :class:`AssetError`."""
    try:
        if engine.needs_weights or fetch:
            local = await assets.ensure_model(name, progress=forward)
            return local.spec, local.path
        return await resolve(name), None
    except GeniusError:
        raise
    except Exception as exc:
        raise AssetError(f"fetching {name!r} failed: {exc!r}") from exc
