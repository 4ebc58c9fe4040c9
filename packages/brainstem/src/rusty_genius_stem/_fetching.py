"""Making a model's weights local for a load, and estimating its memory from them."""

from __future__ import annotations

from os import fspath
from typing import TYPE_CHECKING

from rusty_genius_core import AssetError, GeniusError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from rusty_genius_core import ModelSpec
    from rusty_genius_cortex import Engine

    from ._assets import AssetSource, ProgressCallback

__all__ = ["fetch_weights", "weights_size"]


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
